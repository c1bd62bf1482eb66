import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLearnedTierChooser } from '../../src/router/auto/learned.ts';
import { REQUEST_PRIOR, requestPrior, withRequestPrior } from '../../src/router/auto/request-prior.ts';
import { chat, SAMPLE_PROMPTS } from './helpers.ts';

describe('request prior (reasoning effort, thinking budget, max_tokens)', () => {
  it('shifts only on what the client says', () => {
    assert.equal(requestPrior(chat('hi')), 0);
    assert.equal(requestPrior(chat('hi', { reasoning: { effort: 'medium' } })), 0);
    assert.equal(requestPrior(chat('hi', { maxTokens: 4096 })), 0);
    assert.equal(requestPrior(chat('hi', { maxTokens: 64_000 })), 0);
    assert.equal(requestPrior(chat('hi', { reasoning: { effort: 'high' } })), REQUEST_PRIOR.highEffort);
    assert.equal(requestPrior(chat('hi', { reasoning: { budgetTokens: 16_000 } })), REQUEST_PRIOR.highEffort);
    assert.equal(requestPrior(chat('hi', { reasoning: { budgetTokens: 2_000 } })), REQUEST_PRIOR.thinkingBudget);
    assert.equal(requestPrior(chat('hi', { reasoning: { effort: 'low' } })), REQUEST_PRIOR.lowEffort);
    assert.equal(requestPrior(chat('hi', { reasoning: { effort: 'minimal' } })), REQUEST_PRIOR.lowEffort);
    assert.equal(requestPrior(chat('hi', { maxTokens: 200 })), REQUEST_PRIOR.shortAnswer);
    assert.equal(
      requestPrior(chat('hi', { maxTokens: 100, reasoning: { effort: 'low' } })),
      REQUEST_PRIOR.shortAnswer + REQUEST_PRIOR.lowEffort,
    );
  });

  it('keeps the score in [0, 1]', () => {
    assert.equal(withRequestPrior(0.95, chat('x', { reasoning: { effort: 'high' } })), 1);
    assert.equal(withRequestPrior(0.05, chat('x', { maxTokens: 10 })), 0);
    assert.equal(withRequestPrior(0.5, chat('x')), 0.5);
  });

  it('moves the learned chooser’s score and tier by exactly the prior', () => {
    const chooser = createLearnedTierChooser();
    for (const text of SAMPLE_PROMPTS) {
      const plain = chooser.score(chat(text));
      const high = chooser.choose(chat(text, { reasoning: { effort: 'high' } }), 'balanced');
      assert.equal(high.score, Math.min(1, plain + REQUEST_PRIOR.highEffort));
      assert.ok(high.score >= plain);
      const short = chooser.score(chat(text, { maxTokens: 100 }));
      assert.equal(short, Math.max(0, plain + REQUEST_PRIOR.shortAnswer));
    }
  });
});
