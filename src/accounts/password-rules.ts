import { MIN_PASSWORD_LENGTH } from '../tenancy/passwords.ts';

/**
 * The strength rules of account passwords (docs/accounts.md): at least MIN_PASSWORD_LENGTH characters, at most
 * MAX_PASSWORD_LENGTH (scrypt's input is hashed whole; a megabyte password would only cost CPU), not one of the
 * most common passwords, and not the email address or its name part. Checked before anything is looked up, so
 * the answer never depends on whether an address has an account.
 */
export const MAX_PASSWORD_LENGTH = 200;

/**
 * Passwords of at least ten characters that top the public breach lists (SecLists' 10k most common, those of
 * length ≥ 10), compared in lower case and without trailing digits and punctuation.
 */
const COMMON = new Set([
  'password',
  'qwertyuiop',
  'qwertyuiopasdfghjkl',
  'asdfghjkl',
  'zxcvbnm',
  'iloveyou',
  'princess',
  'sunshine',
  'football',
  'baseball',
  'superman',
  'starwars',
  'trustno',
  'letmein',
  'welcome',
  'changeme',
  'administrator',
  'admin',
  'abcdefghij',
  'abcdefghijklmnopqrstuvwxyz',
  'abc',
  'qwerty',
  'qazwsxedc',
  'qazwsxedcrfv',
  '1q2w3e4r5t',
  '1q2w3e4r5t6y',
  '1qaz2wsx3edc',
  'zaq12wsx',
  'passw0rd',
  'p@ssw0rd',
  'p@ssword',
  'modro',
  'modropassword',
  'monkey',
  'dragon',
  'master',
  'shadow',
  'michael',
  'jennifer',
  'computer',
  'whatever',
  'blink',
  'liverpool',
  'chelsea',
  'arsenal',
  'internet',
  'samsung',
  'pokemon',
  'minecraft',
  'lovelove',
  'babygirl',
  'secret',
  'mypassword',
  'password123',
  'default',
  'guest',
  'test',
  'testtest',
]);

/** Only digits, or one character or a short pattern repeated (`aaaaaaaaaa`, `abcabcabca`). */
function repetitive(password: string): boolean {
  if (/^\d+$/.test(password)) return true;
  for (let len = 1; len <= 4; len++) {
    const unit = password.slice(0, len);
    if (unit.repeat(Math.ceil(password.length / len)).slice(0, password.length) === password) return true;
  }
  return false;
}

/** Why a password is refused, or undefined when it is acceptable. */
export function passwordProblem(password: string, email: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password.length > MAX_PASSWORD_LENGTH) return `Use at most ${MAX_PASSWORD_LENGTH} characters.`;
  const lower = password.toLowerCase();
  const core = lower.replace(/[\d\W_]+$/u, '');
  if (COMMON.has(lower) || COMMON.has(core) || repetitive(lower)) {
    return 'That password is too common or too easy to guess; choose another.';
  }
  const address = email.trim().toLowerCase();
  const name = address.split('@')[0] ?? '';
  if (address !== '' && (lower.includes(address) || (name.length >= 4 && core === name))) {
    return 'Do not use your email address as your password.';
  }
  return undefined;
}
