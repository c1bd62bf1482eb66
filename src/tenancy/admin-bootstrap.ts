import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../ops/logger.ts';
import type { AdminUsers } from './admin-users.ts';
import { generatePassword } from './passwords.ts';

export const ADMIN_PASSWORD_FILE = 'admin-password';

/**
 * Makes sure someone can log into /admin:
 * - `tenancy.admin.password` configured: that user exists with that password (the configuration wins);
 * - otherwise, on the very first start (no admin at all): an `admin` user with a random password, written
 *   to `<data folder>/admin-password` (mode 0600) and never logged. `./modro admin create-user` adds more.
 * Returns the password file's path when it wrote one.
 */
export async function bootstrapAdmin(options: {
  admins: AdminUsers;
  username: string;
  password: string | undefined;
  dataDir: string;
  logger: Logger;
}): Promise<string | undefined> {
  const { admins, username, password, dataDir, logger } = options;
  if (password !== undefined) {
    if (await admins.hasPassword(username, password)) return undefined;
    const what = await admins.upsert(username, password, { replace: true });
    logger.info({ username }, `admin user ${what} from the configuration`);
    return undefined;
  }
  if ((await admins.count()) > 0) return undefined;
  const generated = generatePassword();
  try {
    await admins.upsert(username, generated, { replace: false });
  } catch (err) {
    // Another node created the first admin at the same moment.
    if ((await admins.count()) > 0) return undefined;
    throw err;
  }
  const path = join(dataDir, ADMIN_PASSWORD_FILE);
  writeFileSync(path, `${generated}\n`, { mode: 0o600 });
  logger.warn(
    { username, passwordFile: path },
    'created the first admin user; its password is in the file named here (read it, then delete the file)',
  );
  return path;
}
