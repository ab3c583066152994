// Refuses a principal whose roles may never send a message before its body is read: 401/403 whatever the body.
import { enforceRoles } from 'chronicle-es';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';

type Definitions = (name: string) => { readonly roles?: readonly string[] } | undefined;

/**
 * An onRequest hook (run after authentication) checking the named message's `roles`. The bus checks them again for
 * in-process callers; here it saves reading, parsing and validating a body only to refuse it, and keeps a malformed
 * or oversized body from answering 400/413 to someone who may not send the message at all.
 */
export function rolesHook(definition: Definitions, verb: 'send' | 'run'): onRequestHookHandler {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const { name } = request.params as { name: string };
    const roles = definition(name)?.roles;
    if (roles === undefined) return done();
    try {
      enforceRoles(roles, request.chroniclePrincipal, `${verb} ${name}`);
    } catch (err) {
      return done(err as Error);
    }
    done();
  };
}
