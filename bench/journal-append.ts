/**
 * What the usage journal's append costs per request, in CPU, at low concurrency (docs/benchmarks.md, ADR 0018):
 * `c` loops each wait for a loopback round trip (a stand-in for the upstream answer), then append one usage
 * record and wait for it, as a route does before its last byte. Modes: `none` (the round trip alone, the
 * baseline), `journal` (UsageJournal.append: an asynchronous write through libuv's thread pool, grouped while
 * one is in flight) and `sync` (fs.writeSync of the same line: what ADR 0018 rules out on the request path, for
 * comparison only). CPU is the whole process's (all threads), per record.
 *
 *   node bench/journal-append.ts [--concurrency 1] [--duration-ms 3000] [--runs 4]
 */
import { mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { UsageRecord } from '../src/store/usage.ts';
import { UsageJournal } from '../src/store/usage-journal.ts';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1' },
    'duration-ms': { type: 'string', default: '3000' },
    runs: { type: 'string', default: '4' },
  },
});
const concurrency = Number(values.concurrency);
const durationMs = Number(values['duration-ms']);
const runs = Number(values.runs);
type Mode = 'none' | 'journal' | 'sync';

const RECORD: UsageRecord = {
  requestId: '',
  at: Date.now(),
  tenantId: 'bench',
  keyId: 'key_0123456789abcdef',
  protocol: 'openai-chat',
  requestedModel: 'fast',
  tier: 'fast',
  preset: 'balanced',
  routerScore: null,
  chooser: null,
  modelId: 'mock/gpt-4o-mini',
  providerId: 'mock',
  providerKeyId: 'mock-0',
  attempts: 1,
  stream: false,
  inputTokens: 24,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 20,
  reasoningTokens: 0,
  costNanoUsd: 15_600,
  latencyMs: 1,
  ttfbMs: null,
  status: 200,
  errorCode: null,
};

async function run(mode: Mode): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'modro-journal-append-'));
  const journal = new UsageJournal({ dir });
  await journal.open();
  const fd = openSync(join(dir, 'sync.jsonl'), 'a', 0o600);
  const server = createServer((socket) => socket.on('data', (data) => socket.write(data)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const sockets = await Promise.all(
    Array.from(
      { length: concurrency },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => resolve(socket));
        }),
    ),
  );
  let records = 0;
  const loop = async (socket: Socket, until: number) => {
    while (performance.now() < until) {
      await new Promise((resolve) => {
        socket.once('data', resolve);
        socket.write('x');
      });
      const record = { ...RECORD, requestId: `req_${records++}` };
      if (mode === 'journal') await journal.append(record).written;
      else if (mode === 'sync') writeSync(fd, `${JSON.stringify(record)}\n`);
    }
  };
  // Warm-up, then the measured window.
  await Promise.all(sockets.map((socket) => loop(socket, performance.now() + 500)));
  records = 0;
  const before = process.cpuUsage();
  await Promise.all(sockets.map((socket) => loop(socket, performance.now() + durationMs)));
  const used = process.cpuUsage(before);
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
  return (used.user + used.system) / records;
}

const results: Record<Mode, number[]> = { none: [], journal: [], sync: [] };
for (let i = 0; i < runs; i++) {
  for (const mode of ['none', 'journal', 'sync'] as const) results[mode].push(await run(mode));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`concurrency ${concurrency}, ${runs} alternating runs of ${durationMs} ms per mode; us of CPU per record`);
for (const mode of ['none', 'journal', 'sync'] as const) {
  const xs = results[mode];
  const extra = mode === 'none' ? '' : `, median minus none ${(median(xs) - median(results.none)).toFixed(1)}`;
  console.log(
    `  ${mode.padEnd(8)} median ${median(xs).toFixed(1)} (${xs.map((x) => x.toFixed(1)).join(', ')})${extra}`,
  );
}
