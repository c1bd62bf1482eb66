import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ASK_SIGNAL_NAMES, ASK_SIGNALS, askSignals } from '../ask-signals.ts';
import type { DifficultyRow } from '../offline/difficulty.ts';
import { applyStack, fitStack, stackInputs } from '../offline/stack.ts';

const signal = (text: string, name: (typeof ASK_SIGNAL_NAMES)[number]) =>
  askSignals(text, new Float64Array(ASK_SIGNALS))[ASK_SIGNAL_NAMES.indexOf(name)]!;

describe('ask signals (eleventh round study)', () => {
  it('reads the kind of ask', () => {
    assert.equal(signal('Write a Rust implementation of Raft leader election', 'hard_ask'), 1);
    assert.equal(signal('Prove that there are infinitely many primes.', 'hard_ask'), 1);
    assert.equal(signal('Write a Python function that parses dates', 'build_ask'), 1);
    assert.equal(signal('Translate "good night" into Swedish.', 'easy_ask'), 1);
    assert.equal(signal('hello!', 'greeting'), 1);
    assert.equal(signal('Is 17 an odd number?', 'short_question'), 1);
    assert.equal(signal('Is 17 an odd number?', 'hard_ask'), 0);
    assert.equal(signal('Steps:\n- one\n- two\n3. three', 'log_requirements'), Math.log1p(3));
  });

  it('reads only the window of a long prompt, scaling counts to its length', () => {
    const long = `${'must '.repeat(2000)}`;
    const out = askSignals(long, new Float64Array(ASK_SIGNALS));
    assert.equal(out[0], Math.log1p(long.length));
    assert.ok(out[ASK_SIGNAL_NAMES.indexOf('log_constraints')]! > Math.log1p(1000));
  });

  it('the stacker learns a signal that orders levels within a source', () => {
    const rows: DifficultyRow[] = [];
    for (let k = 0; k < 60; k++) {
      rows.push({ source: 's', text: `item ${k} translate this`, level: 0, target: 0.2 });
      rows.push({ source: 's', text: `item ${k} prove this theorem`, level: 1, target: 0.4 });
    }
    const x = stackInputs(
      rows,
      rows.map(() => 0),
    );
    const use = Array.from({ length: ASK_SIGNALS + 1 }, (_, k) => k === 2 || k === 4);
    const w = fitStack(
      rows,
      x,
      rows.map((_, i) => i),
      use,
    );
    assert.ok(w.signals[1]! > 0, 'hard ask weighs up');
    assert.ok(w.signals[3]! < 0, 'easy ask weighs down');
    assert.ok(applyStack(w, x[1]!) > applyStack(w, x[0]!));
  });
});
