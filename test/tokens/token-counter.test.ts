import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { countTokens } from 'gpt-tokenizer';
import { TokenCounter } from '../../src/tokens/token-counter.ts';

const PLAIN = { disallowedSpecial: new Set<string>() };

describe('token counter (worker thread, budget)', () => {
  test('counts exactly off the event loop, special tokens as plain text', async (t) => {
    const counter = new TokenCounter({ budgetMs: 10_000 });
    t.after(() => counter.close());
    const texts = ['Hello there, how are you?', '', 'function add(a, b) { return a + b; }', 'end <|endoftext|>'];
    const expected = texts.reduce((sum, text) => sum + countTokens(text, PLAIN), 0);
    assert.equal(await counter.count(texts), expected);
    assert.equal(await counter.count(['']), 0);
  });

  test('a count past its budget gives way (undefined) and the worker is free again at once', async (t) => {
    const counter = new TokenCounter({ budgetMs: 250 });
    t.after(() => counter.close());
    assert.equal(await counter.count(['warm up']), 2);
    // A million random CJK characters (no piece repeats, so the tokenizer's cache cannot help): seconds of
    // counting, far past the budget.
    let state = 1;
    const huge = Array.from({ length: 1_000_000 }, () => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return String.fromCharCode(0x4e00 + (state % 20_000));
    }).join('');
    assert.equal(await counter.count([huge]), undefined);
    // Asked for right after, within the same budget: the worker gave the big job up between pieces.
    assert.equal(await counter.count(['and then a small one']), countTokens('and then a small one'));
  });

  test('close() settles pending counts and refuses new ones', async () => {
    const counter = new TokenCounter({ budgetMs: 60_000 });
    const pending = counter.count(['x'.repeat(20_000_000)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await counter.close();
    assert.equal(await pending, undefined);
    assert.equal(await counter.count(['after close']), undefined);
  });

  test('the worker does not keep the process alive', () => {
    const script = `
      import { TokenCounter } from ${JSON.stringify(new URL('../../src/tokens/token-counter.ts', import.meta.url).href)};
      const counter = new TokenCounter({ budgetMs: 10_000 });
      console.log(await counter.count(['counted, and never closed']));
    `;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.signal, null, 'the process had to be killed: the worker kept it alive');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), String(countTokens('counted, and never closed')));
  });
});
