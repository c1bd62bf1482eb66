import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server in process (the `smtp-server` package) on 127.0.0.1: the gateway's nodemailer speaks SMTP
 * to it, and tests read what arrived. Plain connection (STARTTLS not offered), AUTH PLAIN/LOGIN checked against
 * one user when `auth` is given.
 */
export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  /** The decoded text body. */
  text: string;
  raw: string;
}

export interface TestSmtp {
  port: number;
  messages: ReceivedMail[];
  /** Waits for the next message to `to` after the first `skip` ones. */
  waitFor(to: string, options?: { subject?: RegExp; timeoutMs?: number; after?: number }): Promise<ReceivedMail>;
  /** Messages to `to` so far. */
  to(to: string): ReceivedMail[];
  close(): Promise<void>;
}

export async function startSmtp(auth?: { user: string; password: string }): Promise<TestSmtp> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !auth,
    allowInsecureAuth: true,
    logger: false,
    onAuth(a, _session, callback) {
      if (auth && a.username === auth.user && a.password === auth.password) callback(null, { user: a.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: header(raw, 'subject') ?? '',
          text: body(raw),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const to = (address: string) => messages.filter((m) => m.to.includes(address));
  return {
    port,
    messages,
    to,
    async waitFor(address, options = {}) {
      const deadline = Date.now() + (options.timeoutMs ?? 10_000);
      const after = options.after ?? 0;
      for (;;) {
        const found = to(address)
          .slice(after)
          .find((m) => !options.subject || options.subject.test(m.subject));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no mail to ${address} within the time (${messages.length} in all)`);
        await sleep(20);
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function header(raw: string, name: string): string | undefined {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(unfolded);
  return m?.[1]?.trim();
}

/** The text body, decoded from quoted-printable or base64 when the message says so. */
function body(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const content = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const encoding = (header(raw, 'content-transfer-encoding') ?? '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(content.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const joined = content.replace(/=\r?\n/g, '');
    const bytes: number[] = [];
    for (let i = 0; i < joined.length; i++) {
      const hex = joined.slice(i + 1, i + 3);
      if (joined[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
      } else bytes.push(...Buffer.from(joined[i]!, 'utf8'));
    }
    return Buffer.from(bytes).toString('utf8');
  }
  return content;
}

/** The first link in a message that goes to `path`. */
export function linkIn(mail: ReceivedMail, path: string): string {
  const m = new RegExp(`https?://[^\\s]+${path.replace(/[/.]/g, '\\$&')}[^\\s]*`).exec(mail.text);
  if (!m) throw new Error(`no ${path} link in: ${mail.text}`);
  return m[0];
}
