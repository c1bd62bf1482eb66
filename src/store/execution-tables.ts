/** The execution queue (migration 0009_executions; src/executions/, docs/executions.md). Times in ms, money in nano-dollars. */

export type ExecutionStatus = 'PENDING' | 'PROCESSING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

export interface ExecutionTable {
  /** `exec_` + 12 hex digits of the ms clock + 20 random hex digits: ordered by time. */
  id: string;
  tenant_id: string;
  key_id: string | null;
  /** The slug as the client sent it. */
  model: string;
  /** A catalog model id, or a tier for text. */
  resolved_model: string;
  kind: string;
  /** The provider routing put first at submission (per-provider concurrency); null when unknown. */
  provider: string | null;
  status: ExecutionStatus;
  /** The validated input, JSON. */
  input: string;
  /** What the run needs of the caller (tenant, key, routing policy), JSON; never a credential. */
  caller: string;
  webhook_url: string | null;
  /** JSON object given by the client, returned as is. */
  metadata: string | null;
  estimated_nano: number;
  /** The balance hold placed at submission (0: the tenant is not billed); its hold_id is the execution id. */
  held_nano: number;
  attempts: number;
  /** Not claimed before this (retry backoff). */
  run_after: number;
  deadline_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  /** JSON: `{ text?, files?, data? }`. */
  output: string | null;
  /** JSON: ExecutionUsage. */
  usage: string | null;
  cost_nano: number | null;
  served_by: string | null;
  error_code: string | null;
  error_message: string | null;
  /**
   * The long-running upstream job of the current run (migration 0015, decision 0038), JSON UpstreamJob
   * (src/core/execution-contracts.ts), written before its first poll; null when there is none.
   */
  upstream_job: string | null;
}

/**
 * An owed upstream cancel (migration 0016, decision 0045): the job an execution ended FAILED or CANCELLED with,
 * written in its terminal transaction and carried out by the workers of any process.
 */
export interface UpstreamCancelTable {
  /** One per execution: its terminal state is written once. */
  execution_id: string;
  tenant_id: string;
  /** The execution's kind: the runner that cancels the job. */
  kind: string;
  /** JSON UpstreamJob as it was on the execution's row (the provider key's id, never its secret). */
  job: string;
  /** pending (owed), cancelled (the provider took it, or the job was gone), failed (given up). */
  state: 'pending' | 'cancelled' | 'failed';
  /** Tries started, an interrupted one (its process died) included. */
  tries: number;
  /** When it is due; while claimed, when the claim expires. */
  next_at: number;
  /** The claim of the process trying it; null when none holds it. */
  lease_token: string | null;
  /** The last failed try: the gateway's error code, the provider's HTTP status, the message. */
  last_code: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}
