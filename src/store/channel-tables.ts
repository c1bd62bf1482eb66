/** Channel tables as Kysely sees them (migration 0006_channels). Times are integer ms since the epoch. */

export interface ChannelTable {
  /** Also the provider id in the catalog (`<id>/<model>`); unique across YAML providers and channels. */
  id: string;
  kind: string;
  base_url: string | null;
  /** JSON array of model entries (config's providers[].models shape); null: the kind's known models. */
  models: string | null;
  include_known_models: number;
  /** JSON object of the kind's options. */
  options: string;
  priority: number;
  weight: number;
  /** JSON array of the groups allowed to use the channel (migration 0007); null: every tenant. */
  groups: string | null;
  /** 0 or 1. */
  enabled: number;
  created_at: number;
  updated_at: number;
}

export interface ChannelCredentialTable {
  id: string;
  channel_id: string;
  label: string | null;
  /** `v1.<keyId>.<iv>.<ciphertext+tag>` (src/channels/master-key.ts); emptied when revoked. */
  ciphertext: string;
  /** The master key id that sealed it (also inside the ciphertext), for rotation queries. */
  key_id: string;
  /** The last four characters of the credential, the only part ever shown again. */
  last4: string;
  /** active | draining | revoked */
  state: string;
  created_at: number;
  rotate_by: number | null;
  state_changed_at: number;
}

export interface ChannelRevisionTable {
  id: number;
  revision: number;
}
