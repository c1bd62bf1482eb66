import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WakeableSleep } from '../../src/core/wakeable-sleep.ts';

describe('WakeableSleep', () => {
  it('a pause ends at its time, or at once when woken; a wake with no pause under way is not kept', async () => {
    const pause = new WakeableSleep();
    let ended = false;
    const long = pause.sleep(60_000).then(() => {
      ended = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ended, false);
    pause.wake();
    await long;
    assert.equal(ended, true, 'woken before its 60 s');

    pause.wake(); // nothing under way: not remembered
    let short = false;
    const next = pause.sleep(30).then(() => {
      short = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(short, false, 'an earlier wake did not end a later pause');
    await next;
    assert.equal(short, true);
  });
});
