import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ChatRequest } from '../../src/core/ir.ts';
import { PRESETS, type Tier } from '../../src/core/tiers.ts';
import { createLearnedTierChooser } from '../../src/router/auto/learned.ts';

/**
 * The shipped `auto` chooser's scores, pinned: test/fixtures/router/shipped-scores.json holds 131 requests
 * (RouteLLM's MT-Bench, GSM8K and MMLU prompts, so open prompts, word problems and quizzes, plus a few
 * conversations) with the score and tiers the shipped chooser gave them when the file was written
 * (research/routing/write-shipped-scores.ts; rewritten for learned-v6 when it replaced learned-v5, issue 22).
 * A change that is not meant to change routing must leave every score equal, bit for bit.
 */
interface Fixture {
  chooser: string;
  entries: Array<{
    request: Pick<ChatRequest, 'messages' | 'tools' | 'responseFormat'>;
    score: number;
    tiers: Record<(typeof PRESETS)[number], Tier>;
  }>;
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/router/shipped-scores.json', import.meta.url), 'utf8'),
) as Fixture;

describe('the shipped auto chooser on a fixed prompt set', () => {
  const chooser = createLearnedTierChooser();

  it('is the chooser the scores were written with, and the set holds quizzes and every tier', () => {
    assert.equal(chooser.name, fixture.chooser);
    const quizzes = fixture.entries.filter((e) => JSON.stringify(e.request.messages).includes('\\nA.'));
    assert.ok(fixture.entries.length > 100 && quizzes.length > 40, `${quizzes.length} quizzes`);
    for (const tier of ['utility', 'fast', 'deep']) assert.ok(fixture.entries.some((e) => e.tiers.balanced === tier));
  });

  it('gives every request the score and tiers it gave when the fixture was written', () => {
    for (const [k, entry] of fixture.entries.entries()) {
      const request: ChatRequest = {
        model: 'auto',
        stream: false,
        includeUsage: false,
        inbound: { protocol: 'openai-chat', body: {} },
        ...entry.request,
      };
      const tiers = Object.fromEntries(PRESETS.map((preset) => [preset, chooser.choose(request, preset).tier]));
      assert.equal(chooser.score(request), entry.score, `request ${k}`);
      assert.deepEqual(tiers, entry.tiers, `request ${k}`);
    }
  });
});
