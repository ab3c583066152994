// What every console page is rendered with: where the console is mounted, who is signed in, and their CSRF token.
import type { Principal } from 'chronicle-es';

export type ConsoleContext = {
  /** Path the console is mounted at, e.g. `/console`. */
  base: string;
  title: string;
  /** Absent on the sign-in page. */
  principal?: Principal;
  /** The CSRF token every form of the page posts. */
  csrf: string;
  /** Whether the principal may rebuild, retry and skip projections. */
  admin: boolean;
};

/** A path inside the console with each segment encoded: `href(ctx, 'streams', id)`. */
export function href(ctx: Pick<ConsoleContext, 'base'>, ...segments: string[]): string {
  return [ctx.base, ...segments.map(encodeURIComponent)].join('/');
}

/** A query string from the given values (undefined ones left out), with its `?`, or ''. */
export function queryString(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
