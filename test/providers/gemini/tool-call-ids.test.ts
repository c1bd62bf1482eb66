import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartialArgsAssembler, parseJsonPath } from '../../../src/providers/gemini/assemble-partial-args.ts';
import {
  decodeToolCallId,
  synthesizeToolCallId,
  upstreamToolCallId,
} from '../../../src/providers/gemini/tool-call-ids.ts';

describe('tool-call ids', () => {
  it('are stable for a response, distinct per choice and position, in the common id alphabet', () => {
    const a = synthesizeToolCallId('resp-A', 0, 0);
    assert.equal(a, synthesizeToolCallId('resp-A', 0, 0));
    assert.notEqual(a, synthesizeToolCallId('resp-A', 0, 1));
    assert.notEqual(a, synthesizeToolCallId('resp-A', 1, 0));
    assert.notEqual(a, synthesizeToolCallId('resp-B', 0, 0));
    assert.match(a, /^call_[0-9a-f]{16}_0_0$/);
  });

  it('carry the signature exactly, for the issuing model only', () => {
    // Canonical base64 of 9, 10 and 11 bytes: no padding, `==` and `=`, with `+` and `/` in them.
    const signatures = [9, 10, 11].map((n) => Buffer.alloc(n, 0xfb).fill(0xff, 2).toString('base64'));
    assert.deepEqual(
      signatures.map((s) => s.length % 4 === 0 && /[+/]/.test(s)),
      [true, true, true],
    );
    for (const signature of signatures) {
      const id = synthesizeToolCallId('r', 0, 0, { signature, model: 'gemini-3-pro-preview' });
      assert.match(id, /^[A-Za-z0-9_-]+$/);
      assert.equal(decodeToolCallId(id, 'gemini-3-pro-preview').thoughtSignature, signature);
      assert.equal(decodeToolCallId(id, 'models/gemini-3-pro-preview').thoughtSignature, signature);
      assert.equal(decodeToolCallId(id, 'gemini-3-flash-preview').thoughtSignature, undefined);
    }
  });

  it('keep ids Gemini issued, and read nothing from foreign ids', () => {
    const id = upstreamToolCallId('abc_123', { signature: 'c2ln', model: 'm' });
    assert.deepEqual(decodeToolCallId(id, 'm'), { upstreamId: 'abc_123', thoughtSignature: 'c2ln' });
    assert.deepEqual(decodeToolCallId('call_abc123', 'm'), {});
    assert.deepEqual(decodeToolCallId('toolu_01A09q90qw90lq917835lq9', 'm'), {});
  });
});

describe('PartialArgsAssembler', () => {
  it('builds nested objects and arrays, appends string slices, sets numbers, booleans and null', () => {
    const args = new PartialArgsAssembler('g');
    args.apply({ jsonPath: '$.a.b[1].c', stringValue: 'he', willContinue: true });
    args.apply({ jsonPath: '$.a.b[1].c', stringValue: 'llo' });
    args.apply({ jsonPath: '$.n', numberValue: 2.5 });
    args.apply({ jsonPath: "$['odd key']", boolValue: false });
    args.apply({ jsonPath: '$.z', nullValue: 'NULL_VALUE' });
    args.apply({ jsonPath: '$.__proto__', stringValue: 'x' });
    assert.equal(
      JSON.stringify(args.value()),
      '{"a":{"b":[null,{"c":"hello"}]},"n":2.5,"odd key":false,"z":null,"__proto__":"x"}',
    );
    assert.equal(({} as Record<string, unknown>)['x'], undefined);
  });

  it('a path that is not JSONPath is a retryable upstream fault', () => {
    assert.deepEqual(parseJsonPath('$.a[0]["b.c"]', 'g'), ['a', 0, 'b.c']);
    assert.throws(() => parseJsonPath('a.b', 'g'), { code: 'provider_unavailable' });
    assert.throws(() => parseJsonPath('$.a[', 'g'), { code: 'provider_unavailable' });
  });
});
