import { html, type SafeHtml } from '../html.ts';
import { page } from '../layout.ts';

export function adminLoginPage(error?: string): SafeHtml {
  return page({
    title: 'Admin sign in',
    width: 'narrow',
    body: html`<section class="card login">
  <h1>Admin sign in</h1>
  <p>Operator analytics and management. Client dashboards use their own signed links.</p>
  ${error ? html`<div class="notice bad" role="alert">${error}</div>` : ''}
  <form class="stack" method="post" action="/admin/login">
    <div class="field"><label for="username">Username</label><input id="username" name="username" type="text" autocomplete="username" required autofocus></div>
    <div class="field"><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required></div>
    <button class="button" type="submit">Sign in</button>
  </form>
</section>`,
  });
}
