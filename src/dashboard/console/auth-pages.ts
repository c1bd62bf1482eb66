import { MIN_PASSWORD_LENGTH } from '../../tenancy/passwords.ts';
import { html, type SafeHtml } from '../html.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { authPage, csrfField } from './layout.ts';

/** Sign-up, sign-in, forgotten password and reset: the pages shown before a console session exists. */

const passwordHelp = `At least ${MIN_PASSWORD_LENGTH} characters; not a common password, not your address.`;

export function signupPage(csrf: string, notice?: Notice, email = ''): SafeHtml {
  return authPage(
    'Create an account',
    html`<h1>Create an account</h1>
  <p>One account, one balance, API keys for every model. Already have one? <a href="/console/login">Sign in</a>.</p>
  ${noticeBox(notice)}
  <form class="stack" method="post" action="/console/signup">
    ${csrfField(csrf)}
    <div class="field"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" value="${email}" required autofocus></div>
    <div class="field"><label for="password">Password</label><span class="help">${passwordHelp}</span><input id="password" name="password" type="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required></div>
    <button class="button" type="submit">Create account</button>
  </form>`,
  );
}

export function loginPage(csrf: string, notice?: Notice, email = ''): SafeHtml {
  return authPage(
    'Sign in',
    html`<h1>Sign in</h1>
  <p>New here? <a href="/console/signup">Create an account</a>.</p>
  ${noticeBox(notice)}
  <form class="stack" method="post" action="/console/login">
    ${csrfField(csrf)}
    <div class="field"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" value="${email}" required autofocus></div>
    <div class="field"><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></div>
    <button class="button" type="submit">Sign in</button>
  </form>
  <p><a href="/console/forgot">Forgot your password?</a></p>`,
  );
}

export function forgotPage(csrf: string, notice?: Notice): SafeHtml {
  return authPage(
    'Reset your password',
    html`<h1>Reset your password</h1>
  <p>We mail a link to choose a new password to the address of your account.</p>
  ${noticeBox(notice)}
  <form class="stack" method="post" action="/console/forgot">
    ${csrfField(csrf)}
    <div class="field"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required autofocus></div>
    <button class="button" type="submit">Send the link</button>
  </form>`,
  );
}

export function resetPage(csrf: string, token: string, notice?: Notice): SafeHtml {
  return authPage(
    'Choose a new password',
    html`<h1>Choose a new password</h1>
  ${noticeBox(notice)}
  <form class="stack" method="post" action="/console/reset">
    ${csrfField(csrf)}
    <input type="hidden" name="token" value="${token}">
    <div class="field"><label for="password">New password</label><span class="help">${passwordHelp}</span><input id="password" name="password" type="password" autocomplete="new-password" minlength="${MIN_PASSWORD_LENGTH}" required autofocus></div>
    <button class="button" type="submit">Set the password</button>
  </form>`,
  );
}

/** The one answer to a sign-up, whether or not the address already had an account. */
export function checkMailPage(what: 'signup' | 'reset'): SafeHtml {
  return authPage(
    'Check your mail',
    html`<h1>Check your mail</h1>
  <p id="check-mail">${
    what === 'signup'
      ? 'If this address can be used, a message with a link to confirm it is on its way. Follow it, then sign in.'
      : 'If this address has an account, a message with a link to reset its password is on its way. The link works once, for one hour.'
  }</p>
  <p><a href="/console/login">Back to sign in</a></p>`,
  );
}

const LINK_PROBLEMS = {
  invalid: 'This link is not valid. Copy the whole link from the message, or ask for a new one.',
  expired: 'This link has expired. Ask for a new one.',
  used: 'This link was already used. Each link works once; ask for a new one if you need it.',
} as const;

/** A verification, reset or change-of-address link that cannot be used, and why. */
export function linkProblemPage(reason: keyof typeof LINK_PROBLEMS, again: { href: string; label: string }): SafeHtml {
  return authPage(
    'Link not usable',
    html`<h1>Link not usable</h1>
  <p class="notice bad" role="alert" data-reason="${reason}">${LINK_PROBLEMS[reason]}</p>
  <p><a href="${again.href}">${again.label}</a></p>`,
  );
}

export function throttledPage(retryAfterSeconds: number): SafeHtml {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return authPage(
    'Too many attempts',
    html`<h1>Too many attempts</h1>
  <p class="notice bad" role="alert">Too many attempts from this address or for this account. Try again in ${minutes === 1 ? '1 minute' : `${minutes} minutes`}.</p>
  <p><a href="/console/forgot">Forgot your password?</a></p>`,
  );
}
