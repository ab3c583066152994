// Per-request access for console routes: the session's principal, its roles, and the CSRF token of its POSTs.
import { ChronicleError, type Principal } from 'chronicle-es';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../../http-common/index.js';
import type { ConsoleContext } from './console-context.js';
import { CSRF_FIELD, CSRF_HEADER, type Csrf } from './csrf.js';
import { cookieOf, principalOfKey, SESSION_COOKIE } from './session.js';

export type Session = { key: string; principal: Principal };

export type Guard = {
  /** The signed-in session of a request (undefined: not signed in, or the key no longer works). */
  session(request: FastifyRequest): Promise<Session | undefined>;
  /**
   * The context of a page for a signed-in principal allowed to browse. Not signed in: a GET is redirected to the
   * sign-in page (undefined is returned, the reply sent). @throws UNAUTHENTICATED (a POST), FORBIDDEN (no view role)
   */
  require(request: FastifyRequest, reply: FastifyReply): Promise<ConsoleContext | undefined>;
  /** @throws FORBIDDEN unless the POST carries the session's CSRF token */
  checkCsrf(request: FastifyRequest, session: Session): void;
  /** @throws FORBIDDEN unless the context's principal holds an admin role */
  requireAdmin(ctx: ConsoleContext): void;
  /** The context of a page nobody is signed in to (sign-in, errors). */
  anonymous(csrf?: string): ConsoleContext;
};

export type GuardOptions = {
  base: string;
  title: string;
  authenticate: Authenticator;
  csrf: Csrf;
  viewRoles: readonly string[];
  adminRoles: readonly string[];
};

const holds = (principal: Principal, roles: readonly string[]) => principal.roles.some((r) => roles.includes(r));

/** The console's guard. */
export function createGuard(options: GuardOptions): Guard {
  const { base, title, authenticate, csrf, viewRoles, adminRoles } = options;
  const sessions = new WeakMap<FastifyRequest, Promise<Session | undefined>>();
  const session = (request: FastifyRequest) => {
    let found = sessions.get(request);
    if (found === undefined) {
      const key = cookieOf(request, SESSION_COOKIE);
      found =
        key === undefined
          ? Promise.resolve(undefined)
          : principalOfKey(authenticate, key).then((principal) => (principal ? { key, principal } : undefined));
      sessions.set(request, found);
    }
    return found;
  };
  return {
    session,
    async require(request, reply) {
      const current = await session(request);
      if (current === undefined) {
        if (request.method === 'GET' || request.method === 'HEAD') {
          reply.redirect(`${base}/login`, 303);
          return undefined;
        }
        throw new ChronicleError('UNAUTHENTICATED', 'sign in to the console first');
      }
      if (!holds(current.principal, viewRoles)) {
        throw new ChronicleError('FORBIDDEN', `the console is for the roles ${viewRoles.join(', ')}`);
      }
      return {
        base,
        title,
        principal: current.principal,
        csrf: csrf.token(current.key),
        admin: holds(current.principal, adminRoles),
      };
    },
    checkCsrf(request, current) {
      const body = request.body as Record<string, unknown> | undefined;
      const presented = body?.[CSRF_FIELD] ?? request.headers[CSRF_HEADER];
      if (!csrf.verify(current.key, presented)) {
        throw new ChronicleError('FORBIDDEN', 'missing or invalid CSRF token: reload the page and try again');
      }
    },
    requireAdmin(ctx) {
      if (!ctx.admin) throw new ChronicleError('FORBIDDEN', `only the roles ${adminRoles.join(', ')} may do this`);
    },
    anonymous: (token = '') => ({ base, title, csrf: token, admin: false }),
  };
}
