import { html, type SafeHtml } from './html.ts';

/** The page shell shared by client and admin pages: header with brand and navigation, content, footer. */
export interface PageInput {
  title: string;
  /** Shown under the brand: the tenant's name, or "Admin". */
  scope?: string;
  nav?: Array<{ href: string; label: string; active?: boolean }>;
  /** A sign-out form (action + CSRF token). */
  signOut?: { action: string; csrf: string };
  body: SafeHtml;
  /** `narrow` for login and message pages. */
  width?: 'wide' | 'narrow';
}

const LOGO = html`<svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" class="logo-bg"/><path class="logo-mark" d="M8 22V10l8 8 8-8v12" fill="none" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

export function page(input: PageInput): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${input.title} · Modro</title>
<link rel="stylesheet" href="/assets/modro.css">
<link rel="icon" href="data:,">
</head>
<body class="${input.width === 'narrow' ? 'narrow' : 'wide'}">
<header class="topbar">
  <div class="topbar-inner">
    <a class="brand" href="${input.nav?.[0]?.href ?? '/'}">${LOGO}<span class="brand-name">Modro</span>${input.scope ? html`<span class="brand-scope">${input.scope}</span>` : ''}</a>
    ${
      input.nav
        ? html`<nav class="nav">${input.nav.map(
            (item) =>
              html`<a href="${item.href}"${item.active ? html` class="active" aria-current="page"` : ''}>${item.label}</a>`,
          )}</nav>`
        : ''
    }
    ${
      input.signOut
        ? html`<form class="signout" method="post" action="${input.signOut.action}"><input type="hidden" name="_csrf" value="${input.signOut.csrf}"><button class="link-button" type="submit">Sign out</button></form>`
        : ''
    }
  </div>
</header>
<main class="content">
${input.body}
</main>
<footer class="footer">Modro · model router gateway · times in UTC</footer>
</body>
</html>`;
}

/** The one-line outcome of a form (saved, refused and why), shown above a page's content. */
export interface Notice {
  tone: 'good' | 'bad';
  text: string;
}

export function noticeBox(notice: Notice | undefined): SafeHtml | '' {
  return notice ? html`<div class="notice ${notice.tone}" role="status">${notice.text}</div>` : '';
}

/** A plain page with a heading and a message (403, errors, one-time results). */
export function messagePage(title: string, message: SafeHtml | string, status: 'error' | 'info' = 'info'): SafeHtml {
  return page({
    title,
    width: 'narrow',
    body: html`<section class="card message ${status}"><h1>${title}</h1><p>${message}</p></section>`,
  });
}
