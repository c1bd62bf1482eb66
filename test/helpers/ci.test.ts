import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCI } from './ci.ts';

/** The CI gate: any non-empty `CI` but `false`/`0` turns skipped PostgreSQL and Chromium tests into failures. */
test('isCI: any non-empty value but false/0 (any case) is CI', () => {
  for (const value of ['true', 'TRUE', 'True', '1', 'yes', 'on', 'github-actions', '42', ' true ']) {
    assert.equal(isCI({ CI: value }), true, `CI=${JSON.stringify(value)}`);
  }
  for (const value of ['false', 'FALSE', 'False', '0', '', '  ', ' false']) {
    assert.equal(isCI({ CI: value }), false, `CI=${JSON.stringify(value)}`);
  }
  assert.equal(isCI({}), false, 'CI unset');
});
