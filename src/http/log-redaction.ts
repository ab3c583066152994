// What a log line must never carry: credentials in request headers and fields named after secrets. Pino redacts by
// path (fast-redact), so the paths name where Chronicle's and Fastify's lines put such values.

const HEADERS = ['authorization', 'cookie', '["x-api-key"]', '["proxy-authorization"]'];
const SECRET_FIELDS = ['apiKey', 'password', 'secret', 'token', 'accessToken', 'refreshToken', 'jwt'];

/**
 * Pino's `redact` option for Chronicle servers: `Authorization`, `Cookie`, `X-API-Key` and `Proxy-Authorization`
 * request headers and `Set-Cookie` response headers wherever a request or response is logged, and fields named
 * `apiKey`, `password`, `secret`, `token`, `accessToken`, `refreshToken`, or `jwt` at the top level or
 * one level down. `createServer` uses it for its own logger; pass it to a logger you build (`pino({ redact: logRedaction })`).
 */
export const logRedaction: { readonly paths: string[]; readonly censor: string } = {
  paths: [
    ...HEADERS.flatMap((h) => {
      const member = h.startsWith('[') ? h : `.${h}`;
      return [`req.headers${member}`, `request.headers${member}`, `headers${member}`];
    }),
    'res.headers["set-cookie"]',
    'reply.headers["set-cookie"]',
    ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
  ],
  censor: '[redacted]',
};
