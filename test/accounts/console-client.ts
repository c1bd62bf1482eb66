import assert from 'node:assert/strict';

export interface Page {
  status: number;
  html: string;
  res: Response;
  /** Its Set-Cookie headers. */
  lastSetCookies: string[];
}

/**
 * A browser-like HTTP client of the console for the HTTP-level tests: keeps cookies, reads the CSRF token of the
 * last page's forms, posts forms as a browser does (urlencoded, with Origin), follows no redirects.
 */
export class ConsoleClient {
  readonly base: string;
  readonly cookies = new Map<string, string>();
  /** Set-Cookie headers of the last response. */
  lastSetCookies: string[] = [];
  csrf = '';
  /** Sent with every request (e.g. X-Forwarded-For through a trusted proxy). */
  headers: Record<string, string> = {};

  constructor(base: string) {
    this.base = base;
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  #keep(res: Response): void {
    this.lastSetCookies = res.headers.getSetCookie();
    for (const line of this.lastSetCookies) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/Max-Age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(path: string): Promise<Page> {
    const res = await fetch(`${this.base}${path}`, {
      headers: { ...this.headers, cookie: this.cookieHeader() },
      redirect: 'manual',
    });
    this.#keep(res);
    const html = await res.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(html);
    if (token) this.csrf = token[1]!;
    return { status: res.status, html, res, lastSetCookies: this.lastSetCookies };
  }

  async post(
    path: string,
    fields: Record<string, string>,
    options: { csrf?: string | null; origin?: string | null } = {},
  ): Promise<Page> {
    const form = new URLSearchParams(fields);
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (csrf !== null) form.set('_csrf', csrf);
    const origin = options.origin === undefined ? this.base : options.origin;
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        ...this.headers,
        'content-type': 'application/x-www-form-urlencoded',
        cookie: this.cookieHeader(),
        ...(origin !== null ? { origin } : {}),
      },
      body: form.toString(),
    });
    this.#keep(res);
    const html = await res.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(html);
    if (token) this.csrf = token[1]!;
    return { status: res.status, html, res, lastSetCookies: this.lastSetCookies };
  }

  /** GET a pre-session page (sets the form cookie and token), then post its form. */
  async form(page: string, action: string, fields: Record<string, string>) {
    const shown = await this.get(page);
    assert.equal(shown.status, 200, `${page}: ${shown.status}`);
    return this.post(action, fields);
  }
}
