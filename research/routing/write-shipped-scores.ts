/**
 * `node research/routing/write-shipped-scores.ts [--data DIR]`: writes test/fixtures/router/shipped-scores.json,
 * the shipped `auto` chooser's score and tiers on a fixed set of requests (RouteLLM prompts: every 2nd MT-Bench,
 * every 40th GSM8K and every 250th MMLU question, plus a few conversations), which
 * test/router/shipped-scores.test.ts compares with the chooser's current output. Run it only when the shipped
 * chooser is meant to change (a new version, new weights); any other change must leave the file as it is.
 * The data folder defaults to $MODRO_ROUTING_DATA, else ../shared/data/routing beside the repository.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChatRequest, Message } from '../../src/core/ir.ts';
import { PRESETS } from '../../src/core/tiers.ts';
import { createLearnedTierChooser } from '../../src/router/auto/learned.ts';
import { defaultDataDir, loadPairs, REPO_ROOT } from './offline/dataset.ts';

const { values } = parseArgs({ options: { data: { type: 'string' } } });
const every = { mt_bench: 2, gsm8k: 40, mmlu: 250 };
const seen = { mt_bench: 0, gsm8k: 0, mmlu: 0 };
const prompts = loadPairs(values.data ?? defaultDataDir()).rows.filter(
  (row) => seen[row.bench]++ % every[row.bench] === 0,
);

/** A fixture request: the fields of a ChatRequest the chooser reads (test/router/shipped-scores.test.ts adds the rest). */
type FixtureRequest = Pick<ChatRequest, 'messages' | 'tools' | 'responseFormat'>;

const message = (role: Message['role'], text: string) => ({ role, content: [{ type: 'text', text }] }) as Message;
const single = (text: string): FixtureRequest => ({ messages: [message('user', text)] });
const requests: FixtureRequest[] = prompts.map((row) => single(row.prompt));
const [first, second, third] = [prompts[0]!.prompt, prompts[40]!.prompt, prompts[80]!.prompt];
requests.push(
  { messages: [message('system', 'You are a careful tutor.'), message('user', second)] },
  {
    messages: [
      message('user', first),
      message('assistant', 'Here is a first draft.'),
      message('user', 'Make it shorter.'),
    ],
  },
  {
    messages: [message('user', third)],
    tools: [
      { name: 'search', parameters: {} },
      { name: 'calculator', parameters: {} },
    ],
    responseFormat: { type: 'json_object' },
  },
  { messages: [message('system', 'Only a system prompt.')] },
  single(''),
);

const chooser = createLearnedTierChooser();
const entries = requests.map((request) => {
  const ir: ChatRequest = {
    model: 'auto',
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai-chat', body: {} },
    ...request,
  };
  const tiers = Object.fromEntries(PRESETS.map((preset) => [preset, chooser.choose(ir, preset).tier]));
  return { request, score: chooser.score(ir), tiers };
});
const out = join(REPO_ROOT, 'test', 'fixtures', 'router', 'shipped-scores.json');
mkdirSync(dirname(out), { recursive: true });
// One request a line: a changed score shows as a one-line diff.
const lines = entries.map((entry) => JSON.stringify(entry)).join(',\n');
writeFileSync(out, `{"chooser": ${JSON.stringify(chooser.name)}, "entries": [\n${lines}\n]}\n`);
console.log(`wrote ${out}: ${entries.length} requests scored by ${chooser.name}`);
