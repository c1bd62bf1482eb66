/**
 * Purposes of files (docs/files.md): what a client may upload under each, how large, and how long it is kept.
 * The built-in ones below; `files.purposes` in the configuration overrides any field or adds purposes.
 */
export interface PurposeRules {
  /** Allowed content types (`image/*`, `application/pdf`, `*\/*`). */
  types: string[];
  maxBytes: number;
  /** ms after creation the file expires; undefined: kept until deleted. */
  retentionMs: number | undefined;
  /** Clients may upload it (false: written only by the server). */
  upload: boolean;
}

const MiB = 1024 * 1024;
const DAY = 86_400_000;

export const BUILT_IN_PURPOSES: Readonly<Record<string, PurposeRules>> = {
  /** Images, audio and video an execution reads (`image: "file_…"`). */
  execution_input: {
    types: ['image/*', 'audio/*', 'video/*'],
    maxBytes: 100 * MiB,
    retentionMs: undefined,
    upload: true,
  },
  /** What executions produce (images, audio, video): written by the worker, downloaded by id. */
  execution_output: { types: ['*/*'], maxBytes: 512 * MiB, retentionMs: 30 * DAY, upload: false },
  /** OpenAI's purposes that fit a gateway: images for vision, and anything for `user_data`. */
  vision: { types: ['image/*'], maxBytes: 20 * MiB, retentionMs: undefined, upload: true },
  user_data: { types: ['*/*'], maxBytes: 100 * MiB, retentionMs: undefined, upload: true },
};

export interface PurposeConfig {
  types?: string[] | undefined;
  maxBytes?: number | undefined;
  retentionDays?: number | undefined;
  upload?: boolean | undefined;
}

/** The built-in purposes with the configuration's fields over them (a new purpose defaults to any type, 100 MiB). */
export function purposesFrom(config: Record<string, PurposeConfig>): Record<string, PurposeRules> {
  const out: Record<string, PurposeRules> = { ...BUILT_IN_PURPOSES };
  for (const [name, c] of Object.entries(config)) {
    const base = out[name] ?? { types: ['*/*'], maxBytes: 100 * MiB, retentionMs: undefined, upload: true };
    out[name] = {
      types: c.types ?? base.types,
      maxBytes: c.maxBytes ?? base.maxBytes,
      retentionMs:
        c.retentionDays === undefined ? base.retentionMs : c.retentionDays > 0 ? c.retentionDays * DAY : undefined,
      upload: c.upload ?? base.upload,
    };
  }
  return out;
}
