import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * Channel credentials at rest: AES-256-GCM under a master key that lives outside the database, in the
 * environment or a file. Each ciphertext names the id of the key that sealed it, so a keyring of the current
 * key and older ones reads every row while `modro channels rotate-master-key` moves them to the current key.
 *
 *   MODRO_MASTER_KEY            base64 of 32 random bytes: the current key (encrypts; decrypts its own rows)
 *   MODRO_MASTER_KEY_PREVIOUS   comma-separated older keys (decrypt only), while rows sealed by them remain
 *   MODRO_MASTER_KEY_FILE       instead of the two above: a file, first line the current key, further lines
 *                               older ones. Re-read on every channel reload, so a running gateway learns a new
 *                               key without a restart.
 *
 * A key's id is derived from the key itself (the first 8 bytes of SHA-256 over a label and the key, hex), so
 * nothing has to be named by hand and a wrong key is recognised before any decryption is tried. The
 * credential's own id is the GCM additional data: a ciphertext copied onto another row does not open.
 * Format: `v1.<keyId>.<iv base64url>.<ciphertext+tag base64url>`.
 */
export interface MasterKey {
  id: string;
  key: Buffer;
}

export interface Keyring {
  /** Seals new ciphertexts. */
  current: MasterKey;
  /** Every key that may open a ciphertext, current first. */
  all: MasterKey[];
}

export class MasterKeyError extends Error {}

const VERSION = 'v1';

export function masterKeyOf(base64: string, where: string): MasterKey {
  const text = base64.trim();
  const key = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || key.length !== 32) {
    // Never the value: say where it came from and what is wrong with it.
    throw new MasterKeyError(`${where} is not base64 of 32 bytes (generate one: openssl rand -base64 32)`);
  }
  return { id: createHash('sha256').update('modro-master-key:').update(key).digest('hex').slice(0, 16), key };
}

export function keyringOf(current: MasterKey, previous: MasterKey[] = []): Keyring {
  const all = [current, ...previous.filter((k) => k.id !== current.id)];
  return { current, all };
}

/**
 * The keyring from the environment (MODRO_MASTER_KEY[_PREVIOUS]) or MODRO_MASTER_KEY_FILE; undefined when none
 * is configured (channels are then unavailable). Asynchronous: it may read a file, and is called off the
 * request path (at start and on channel reloads).
 */
export async function loadKeyring(env: NodeJS.ProcessEnv): Promise<Keyring | undefined> {
  const file = env['MODRO_MASTER_KEY_FILE'];
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new MasterKeyError(`MODRO_MASTER_KEY_FILE ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`);
    }
    const lines = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    if (lines.length === 0) throw new MasterKeyError(`MODRO_MASTER_KEY_FILE ${file} holds no key`);
    const keys = lines.map((line, i) => masterKeyOf(line, `line ${i + 1} of ${file}`));
    return keyringOf(keys[0]!, keys.slice(1));
  }
  const current = env['MODRO_MASTER_KEY'];
  if (!current) return undefined;
  const previous = (env['MODRO_MASTER_KEY_PREVIOUS'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => masterKeyOf(s, `MODRO_MASTER_KEY_PREVIOUS (entry ${i + 1})`));
  return keyringOf(masterKeyOf(current, 'MODRO_MASTER_KEY'), previous);
}

function aad(recordId: string): Buffer {
  return Buffer.from(`modro:channel-credential:${recordId}`, 'utf8');
}

/** Seals `plaintext` for the row `recordId` under the keyring's current key. */
export function seal(keyring: Keyring, recordId: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.current.key, iv);
  cipher.setAAD(aad(recordId));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return [VERSION, keyring.current.id, iv.toString('base64url'), body.toString('base64url')].join('.');
}

/** The key id a ciphertext names. */
export function sealedWith(ciphertext: string): string {
  return ciphertext.split('.')[1] ?? '';
}

/** Opens a ciphertext of row `recordId`. Throws MasterKeyError (never with the value) when it cannot. */
export function open(keyring: Keyring, recordId: string, ciphertext: string): string {
  const [version, keyId, iv, body] = ciphertext.split('.');
  if (version !== VERSION || !keyId || !iv || !body) {
    throw new MasterKeyError(`credential ${recordId}: unreadable ciphertext format`);
  }
  const key = keyring.all.find((k) => k.id === keyId);
  if (!key) {
    throw new MasterKeyError(
      `credential ${recordId} is sealed by master key ${keyId}, which is not configured (give it in MODRO_MASTER_KEY_PREVIOUS or MODRO_MASTER_KEY_FILE)`,
    );
  }
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length < 16) throw new MasterKeyError(`credential ${recordId}: truncated ciphertext`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad(recordId));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new MasterKeyError(`credential ${recordId}: ciphertext does not authenticate under master key ${keyId}`);
  }
}

/** A new random master key, base64 (what `modro channels generate-master-key` prints). */
export function generateMasterKey(): string {
  return randomBytes(32).toString('base64');
}
