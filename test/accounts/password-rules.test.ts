import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeEmail } from '../../src/accounts/email-address.ts';
import { passwordProblem } from '../../src/accounts/password-rules.ts';

test('password rules: length, common passwords (with trailing digits and punctuation), repetition, the address', () => {
  const email = 'jane.doe@example.com';
  assert.equal(passwordProblem('correct horse battery', email), undefined);
  assert.equal(passwordProblem('Tr0ub4dor&3xyz', email), undefined);
  assert.match(passwordProblem('short', email)!, /at least 10/);
  assert.match(passwordProblem('x'.repeat(201), email)!, /at most 200/);
  for (const common of ['password123', 'Password2024!', 'qwertyuiop', 'iloveyou!!!', 'letmein12345', '1q2w3e4r5t']) {
    assert.match(passwordProblem(common, email)!, /too common/, common);
  }
  for (const repetitive of ['aaaaaaaaaaaa', 'abababababab', 'abcabcabcabc', '98765432101']) {
    assert.match(passwordProblem(repetitive, email)!, /too common/, repetitive);
  }
  assert.match(passwordProblem('JANE.DOE@example.com', email)!, /email address/);
  assert.match(passwordProblem('xx jane.doe@example.com', email)!, /email address/);
  assert.match(passwordProblem('jane.doe2024', email)!, /email address/);
});

test('addresses: trimmed and lower-cased; what cannot be an address is refused', () => {
  assert.equal(normalizeEmail('  Jane.Doe@Example.COM '), 'jane.doe@example.com');
  assert.equal(normalizeEmail('a+tag@sub.example.co.uk'), 'a+tag@sub.example.co.uk');
  for (const bad of [
    '',
    'jane',
    'jane@',
    '@example.com',
    'jane@example',
    'ja ne@example.com',
    'a@b@c.com',
    'x\u0000@e.com',
    'j<a>@e.com',
    `${'a'.repeat(65)}@e.com`,
    42,
    null,
  ]) {
    assert.equal(normalizeEmail(bad), undefined, String(bad));
  }
});
