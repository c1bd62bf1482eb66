import type { Generated } from 'kysely';

/** Webhook tables as Kysely sees them (migration 0009_webhooks). Times are integer ms since the epoch. */

export interface WebhookDeliveryTable {
  /** `whd_<uuid>`: what the tenant API names. */
  id: string;
  tenant_id: string;
  /** The `webhook-id` header: the same on every attempt; unique per tenant (a second enqueue is ignored). */
  message_id: string;
  type: string;
  url: string;
  /** The URL's host and port, lower case: attempts in flight are capped per host. */
  host: string;
  /** The exact body sent on every attempt: `{ type, timestamp, data }` as JSON. */
  payload: string;
  /** pending | delivered | failed */
  state: string;
  /** Attempts made (automatic and manual). */
  attempts: number;
  /** 1 while a manual redelivery of a finished delivery is due: one attempt, no schedule after it. */
  manual: number;
  /** When it is due; while claimed, when the claim expires. */
  next_at: number;
  /** The claim of the deliverer working on it; null when none ever claimed it or it finished. */
  lease_token: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

export interface WebhookAttemptTable {
  id: Generated<number>;
  delivery_id: string;
  tenant_id: string;
  at: number;
  duration_ms: number;
  /** The receiver's HTTP status; null when none came (see `error`). */
  status: number | null;
  /** A transport error class (timeout, connection_refused, blocked_address, …); null when a status came. */
  error: string | null;
  /** The first bytes of the receiver's answer (at most 256 characters), never more. */
  excerpt: string | null;
  manual: number;
}

export interface WebhookSecretTable {
  tenant_id: string;
  /** `v1.<keyId>.<iv>.<ciphertext+tag>` of the current `whsec_…` secret. */
  ciphertext: string;
  key_id: string;
  /** The secret before the last rotation, still signing beside the new one until `previous_until`. */
  previous_ciphertext: string | null;
  previous_until: number | null;
  created_at: number;
  rotated_at: number | null;
}
