/**
 * Recorded provider samples (test/fixtures/wire/<provider>/...) as what the mock sends: the `.json` body for a
 * non-streaming request; for a stream, the `.chunks.txt` payloads framed as SSE the way the OpenAI family frames
 * them (`data: <json>\n\n` per event, then `data: [DONE]\n\n`), or an `.sse` file sent as recorded.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const WIRE = new URL('../../fixtures/wire/', import.meta.url);

/** A fixture name: path under test/fixtures/wire without extension, e.g. `groq/groq-text`. */
export type FixtureName = string;

export type Replayed = { kind: 'body'; status: number; body: string } | { kind: 'stream'; events: string[] };

const cache = new Map<string, Replayed>();

export function fixturePath(name: FixtureName, extension: string): string {
  return fileURLToPath(new URL(`${name}${extension}`, WIRE));
}

export const frameEvent = (data: string): string => `data: ${data}\n\n`;
export const DONE_EVENT = frameEvent('[DONE]');

export function loadReplay(name: FixtureName, stream: boolean): Replayed {
  const key = `${name}|${stream}`;
  let replayed = cache.get(key);
  if (replayed) return replayed;
  if (stream) {
    const chunks = fixturePath(name, '.chunks.txt');
    const sse = fixturePath(name, '.sse');
    if (existsSync(chunks)) {
      const lines = readFileSync(chunks, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '');
      replayed = { kind: 'stream', events: [...lines.map(frameEvent), DONE_EVENT] };
    } else if (existsSync(sse)) {
      // Split after each blank line so the events concatenate back to the file byte for byte.
      replayed = { kind: 'stream', events: readFileSync(sse, 'utf8').split(/(?<=\n\n)/) };
    } else {
      throw new Error(`No streamed sample ${name}.chunks.txt or ${name}.sse in test/fixtures/wire`);
    }
  } else {
    const json = fixturePath(name, '.json');
    if (!existsSync(json)) throw new Error(`No sample ${name}.json in test/fixtures/wire`);
    const body = readFileSync(json, 'utf8');
    // A recorded error body (`{"error": ...}`) is replayed as the 400 it was recorded from.
    // (A Responses API body carries `"error": null` when it succeeded.)
    const status = (JSON.parse(body) as { error?: unknown }).error ? 400 : 200;
    replayed = { kind: 'body', status, body };
  }
  cache.set(key, replayed);
  return replayed;
}

/** The JSON payloads of a `.chunks.txt` sample, for tests that check them directly. */
export function readChunkPayloads(name: FixtureName): unknown[] {
  return readFileSync(fixturePath(name, '.chunks.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}
