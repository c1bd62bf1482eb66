import type { LedgerEntryTable, LedgerKind } from '../store/ledger-tables.ts';

/** A ledger entry about to be written (the writer adds its id and its node). */
export type NewEntry = Omit<LedgerEntryTable, 'id' | 'node'>;

export function blankEntry(tenantId: string, at: number, kind: LedgerKind): NewEntry {
  return {
    tenant_id: tenantId,
    at,
    kind,
    amount_nano: 0,
    held_nano: 0,
    hold_id: null,
    key_id: null,
    request_id: null,
    payment_id: null,
    admin: null,
    reason: null,
  };
}
