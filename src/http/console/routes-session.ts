// Sign-in and sign-out. The sign-in form's CSRF token is bound to a nonce cookie (there is no session yet), so
// another site cannot sign a browser in under its own key.
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../../http-common/index.js';
import { CSRF_FIELD, type Csrf } from './csrf.js';
import type { Guard } from './guard.js';
import { loginPage } from './pages/login.js';
import { sendHtml } from './respond.js';
import { clearCookie, cookieOf, LOGIN_COOKIE, loginNonce, principalOfKey, SESSION_COOKIE, setCookie } from './session.js';

export type SessionRouteOptions = {
  base: string;
  guard: Guard;
  csrf: Csrf;
  authenticate: Authenticator;
  viewRoles: readonly string[];
};

/** Registers GET/POST /login and POST /logout. */
export function registerSessionRoutes(scope: FastifyInstance, options: SessionRouteOptions): void {
  const { base, guard, csrf, authenticate, viewRoles } = options;
  const subject = (nonce: string) => `login:${nonce}`;

  const showLogin = (reply: Parameters<typeof sendHtml>[0], error?: string, status = 200) => {
    const nonce = loginNonce();
    setCookie(reply, LOGIN_COOKIE, nonce, base, 600);
    return sendHtml(reply, loginPage(guard.anonymous(csrf.token(subject(nonce))), error), status);
  };

  scope.get('/login', async (_request, reply) => showLogin(reply));

  scope.post('/login', async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const nonce = cookieOf(request, LOGIN_COOKIE);
    if (nonce === undefined || !csrf.verify(subject(nonce), body[CSRF_FIELD])) {
      return showLogin(reply, 'The sign-in form expired or did not come from this console: try again.', 403);
    }
    const key = body.key;
    if (typeof key !== 'string' || key.length === 0 || key.length > 4096) return showLogin(reply, 'Enter an API key.', 400);
    const principal = await principalOfKey(authenticate, key);
    if (principal === undefined) return showLogin(reply, 'That API key is not valid.', 401);
    if (!principal.roles.some((r) => viewRoles.includes(r))) {
      return showLogin(reply, `${principal.id} may not use the console (roles: ${viewRoles.join(', ')}).`, 403);
    }
    clearCookie(reply, LOGIN_COOKIE, base);
    setCookie(reply, SESSION_COOKIE, key, base);
    return reply.redirect(base, 303);
  });

  scope.post('/logout', async (request, reply) => {
    const current = await guard.session(request);
    if (current !== undefined) guard.checkCsrf(request, current);
    clearCookie(reply, SESSION_COOKIE, base);
    return reply.redirect(`${base}/login`, 303);
  });
}
