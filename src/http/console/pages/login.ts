// Sign-in with an API key; the key goes into the session cookie, never into the page.
import { type ConsoleContext, href } from '../console-context.js';
import { html, type SafeHtml } from '../escape.js';
import { csrfField, page } from '../layout.js';

/** The sign-in page, with an error when the last attempt failed. */
export function loginPage(ctx: ConsoleContext, error?: string): SafeHtml {
  return page(
    ctx,
    'Sign in',
    html`${error ? html`<p class="problem" id="login-error">${error}</p>` : ''}
<form method="post" action="${href(ctx, 'login')}">${csrfField(ctx)}
<label for="key">API key</label>
<input id="key" type="password" name="key" autocomplete="off" autofocus>
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}
