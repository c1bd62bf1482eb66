import { randomUUID } from 'node:crypto';
import type { Catalog } from '../../../src/catalog/catalog.ts';
import { buildCatalog } from '../../../src/catalog/catalog.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import type { ExecutionFiles, ExecutionModel, FileMeta, RunContext } from '../../../src/core/execution-contracts.ts';
import type { MediaSettings } from '../../../src/providers/media/media-adapter.ts';
import { mediaRunners } from '../../../src/providers/media/runner.ts';
import { testUpstreams } from '../../helpers/call-context.ts';
import { MOCK_AZURE_KEY, type MockOpenAIMedia } from '../../mocks/openai-media.ts';

/**
 * What the media runners' tests share: an in-memory file store scoped by tenant (the ExecutionFiles seam), a
 * run context, and a runner over a catalog built from configuration like the gateway's.
 */

export class MemoryFiles implements ExecutionFiles {
  readonly files = new Map<string, { meta: FileMeta; bytes: Uint8Array }>();

  async put(
    tenantId: string,
    file: { bytes: Uint8Array; contentType: string; purpose: string; filename?: string },
  ): Promise<FileMeta> {
    const meta: FileMeta = {
      id: `file_${randomUUID()}`,
      tenantId,
      bytes: file.bytes.byteLength,
      contentType: file.contentType,
      purpose: file.purpose,
      filename: file.filename ?? null,
      createdAt: Date.now(),
      expiresAt: null,
    };
    this.files.set(meta.id, { meta, bytes: file.bytes });
    return meta;
  }

  async read(tenantId: string, id: string): Promise<{ meta: FileMeta; bytes: Uint8Array } | undefined> {
    const file = this.files.get(id);
    return file && file.meta.tenantId === tenantId ? file : undefined;
  }

  async peek(tenantId: string, id: string, bytes: number): Promise<{ meta: FileMeta; head: Uint8Array } | undefined> {
    const file = await this.read(tenantId, id);
    return file && { meta: file.meta, head: file.bytes.subarray(0, bytes) };
  }

  /** A client's upload. */
  async upload(tenantId: string, bytes: Uint8Array, contentType: string, filename?: string): Promise<string> {
    return (await this.put(tenantId, { bytes, contentType, purpose: 'input', ...(filename ? { filename } : {}) })).id;
  }

  outputs(): Array<{ meta: FileMeta; bytes: Uint8Array }> {
    return [...this.files.values()].filter((f) => f.meta.purpose === 'execution_output');
  }
}

let sequence = 0;
export function runContext(
  files: ExecutionFiles,
  options: { signal?: AbortSignal; attempt?: number; tenantId?: string; executionId?: string } = {},
): RunContext {
  sequence += 1;
  return {
    executionId: options.executionId ?? `exec_test${sequence}`,
    tenantId: options.tenantId ?? 'tenant-a',
    signal: options.signal ?? new AbortController().signal,
    files,
    attempt: options.attempt ?? 1,
  };
}

/** A catalog of these providers (configuration as YAML gives it), and the media runner over it. */
export function mediaRunnerFor(
  providers: unknown[],
  settings: Partial<MediaSettings> = {},
  files?: ExecutionFiles,
): { catalog: Catalog; runner: ReturnType<typeof mediaRunners>[0] } {
  const catalog = buildCatalog(parseConfig({ providers, demo: { enabled: false } }, {}), {});
  const [runner] = mediaRunners({
    catalog,
    pool: testUpstreams,
    settings: { pollIntervalMs: 10, ...settings },
    files,
  });
  return { catalog, runner: runner! };
}

export function model(id: string, kind: ExecutionModel['kind']): ExecutionModel {
  return { id, kind };
}

/** Asserts nothing in a result names a URL (provider outputs never leave as URLs). */
export function noUrlIn(value: unknown): boolean {
  return !/https?:\/\/|data:/.test(JSON.stringify(value));
}

/** Waits until `condition` holds, checking every millisecond; fails after `ms` (a test never hangs). */
export async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** An Azure provider whose media models run on the mock resource's deployments. */
export function azureMediaProvider(
  mock: MockOpenAIMedia,
  options: Record<string, string> = {},
): NonNullable<ConfigInput['providers']>[number] {
  return {
    id: 'azure',
    kind: 'azure',
    baseUrl: mock.azureEndpoint,
    keys: [MOCK_AZURE_KEY],
    options,
    models: [
      { name: 'gpt-image-1', upstreamName: 'art-gpt-image', mode: 'image' },
      {
        name: 'dall-e-3',
        upstreamName: 'art-dalle3',
        mode: 'image',
        mediaPrice: { perImage: { '1024x1024/hd': 0.08, '1024x1024': 0.04, hd: 0.12, '*': 0.08 } },
      },
      { name: 'tts-1', upstreamName: 'voice-tts', mode: 'speech', mediaPrice: { perMillionCharacters: 15 } },
      { name: 'whisper-1', upstreamName: 'ears-whisper', mode: 'transcription' },
      { name: 'gpt-4o-transcribe', upstreamName: 'ears-4o', mode: 'transcription' },
      { name: 'sora-2', upstreamName: 'film-sora', mode: 'video', mediaPrice: { perSecond: 0.1 } },
    ],
  };
}
