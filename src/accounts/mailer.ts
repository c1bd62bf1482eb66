import type { Transporter } from 'nodemailer';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../ops/logger.ts';

/**
 * Outgoing mail of the accounts (verification, reset, change of email, notices). With `mail` configured it goes
 * through nodemailer to that SMTP server; without, the link each message carries is written to the log as one
 * line, so the embedded default works with no mail server (the link is single use and expires; no password
 * or other secret is ever in it).
 */
export interface Mail {
  to: string;
  subject: string;
  text: string;
  /** The link the message carries, if any (what the log shows when no server is configured). */
  link?: string | undefined;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  close(): void;
}

export function createMailer(config: Config['mail'], logger: Logger): Mailer {
  return config ? new SmtpMailer(config) : new LogMailer(logger);
}

export class SmtpMailer implements Mailer {
  readonly #config: NonNullable<Config['mail']>;
  readonly #from: string;
  /** nodemailer is loaded with the first message (~5 MB of heap that a gateway that never mails should not carry). */
  #transport: Promise<Transporter> | undefined;
  #closed = false;

  constructor(config: NonNullable<Config['mail']>) {
    this.#config = config;
    this.#from = config.from;
  }

  #open(): Promise<Transporter> {
    this.#transport ??= import('nodemailer').then(({ default: nodemailer }) => {
      const config = this.#config;
      const transport = nodemailer.createTransport({
        host: config.host,
        port: config.port,
        secure: config.secure,
        requireTLS: !config.secure && !config.allowPlaintext,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
        ...(config.user ? { auth: { user: config.user, pass: config.password ?? '' } } : {}),
      });
      if (this.#closed) transport.close();
      return transport;
    });
    return this.#transport;
  }

  async send(mail: Mail): Promise<void> {
    const transport = await this.#open();
    await transport.sendMail({ from: this.#from, to: mail.to, subject: mail.subject, text: mail.text });
  }

  close(): void {
    this.#closed = true;
    void this.#transport?.then((transport) => transport.close());
  }
}

export class LogMailer implements Mailer {
  readonly #logger: Pick<Logger, 'info'>;

  constructor(logger: Pick<Logger, 'info'>) {
    this.#logger = logger;
  }

  async send(mail: Mail): Promise<void> {
    this.#logger.info(
      { to: mail.to, subject: mail.subject, ...(mail.link ? { link: mail.link } : {}) },
      'mail not sent (no mail server configured, see docs/accounts.md): its link is here instead',
    );
  }

  close(): void {}
}
