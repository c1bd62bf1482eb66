import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkPriceData, PriceDataError, usePriceData } from '../billing/prices.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../ops/logger.ts';

/**
 * The live catalog's prices: fetched on a schedule from `prices.refresh.url` (a file in @pydantic/genai-prices'
 * format), checked (prices.ts `checkPriceData`), kept as the last good copy in the data folder and handed to
 * `apply`, which rebuilds the catalog and the router's table in place (as a channel edit does). A failed fetch
 * or a file that does not check keeps the prices in use; it is logged once per streak of failures, and once
 * more when a refresh succeeds again. At start the last good copy on disk is used before any fetch, so a
 * restart without network keeps the newest prices this gateway had.
 */
export const PRICE_FILE = 'prices.json';

export interface PriceRefreshOptions {
  settings: Config['prices']['refresh'];
  dataDir: string;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Rebuilds the catalog with the data now in use; throws if the build fails. */
  apply(): void;
  fetch?: typeof fetch;
}

export class PriceRefresher {
  readonly #o: PriceRefreshOptions;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #running: Promise<boolean> | undefined;
  #closed = false;

  constructor(options: PriceRefreshOptions) {
    this.#o = options;
  }

  get #file(): string {
    return join(this.#o.dataDir, PRICE_FILE);
  }

  /** Uses the last good copy on disk (when there is one and it checks), then refreshes on the schedule. */
  async start(): Promise<void> {
    await this.#loadSaved();
    if (!this.#o.settings.enabled) return;
    // The first fetch is not awaited: start does not wait on the network.
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#o.settings.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #loadSaved(): Promise<void> {
    let text: string;
    let fetchedAt: number;
    try {
      [text, fetchedAt] = await Promise.all([readFile(this.#file, 'utf8'), stat(this.#file).then((s) => s.mtimeMs)]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#o.logger.warn(
          { code: (err as NodeJS.ErrnoException).code },
          'saved price data unreadable; bundled prices in use',
        );
      }
      return;
    }
    try {
      checkPriceData(text);
      usePriceData(text, fetchedAt);
      this.#o.apply();
      this.#o.logger.info(
        { fetchedAt: new Date(fetchedAt).toISOString() },
        'prices from the saved copy of the price data',
      );
    } catch (err) {
      this.#o.logger.warn({ reason: reasonOf(err) }, 'saved price data not used; bundled prices in use');
    }
  }

  /** One refresh now; true when new prices were applied. Concurrent calls share one run. */
  refresh(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    this.#running ??= this.#refresh().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #refresh(): Promise<boolean> {
    const { settings, logger } = this.#o;
    try {
      const text = await this.#download();
      checkPriceData(text);
      const fetchedAt = Date.now();
      // Saved before it is used: a copy that was applied is always one a restart can find.
      const tmp = `${this.#file}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, this.#file);
      usePriceData(text, fetchedAt);
      this.#o.apply();
      if (this.#failing) logger.info('price refresh works again');
      else logger.info({ bytes: text.length }, 'prices refreshed');
      this.#failing = false;
      return true;
    } catch (err) {
      if (!this.#failing) {
        logger.warn(
          { reason: reasonOf(err), url: redactUrl(settings.url) },
          'price refresh failed; the current prices stay (logged once until a refresh succeeds)',
        );
      }
      this.#failing = true;
      return false;
    }
  }

  async #download(): Promise<string> {
    const { settings } = this.#o;
    const response = await (this.#o.fetch ?? fetch)(settings.url, {
      signal: AbortSignal.timeout(settings.timeoutMs),
      headers: { accept: 'application/json' },
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new PriceDataError(`HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > settings.maxBytes) {
      await response.body?.cancel();
      throw new PriceDataError(`larger than ${settings.maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      for await (const chunk of response.body) {
        size += chunk.byteLength;
        if (size > settings.maxBytes) throw new PriceDataError(`larger than ${settings.maxBytes} bytes`);
        chunks.push(chunk);
      }
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof PriceDataError) return err.message;
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  return cause ?? (err instanceof Error ? err.name : 'failed');
}

/** A URL without its user, password and query (either could hold a token). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
