// Per-tenant resources (stores, buses, projector), opened on first use, cached, and closed together.
import { ChronicleError } from '../errors.js';
import { assertTenantId } from './tenant-id.js';

/** What `open` returns for one tenant: any object; its `close` (when it has one) is called once, by the registry's close. */
export type TenantResources = { close?(): void | Promise<void> };

/** How a tenant registry opens a tenant, and which tenants exist. */
export type TenantRegistryOptions<T extends object> = {
  /** Opens one tenant's resources, e.g. its stores at `tenantPath(...)` or in `tenantSchema(...)`, and its buses. */
  open(tenantId: string): T | Promise<T>;
  /** Whether a tenant exists (a tenant table, a config list): an unknown one is NOT_FOUND and nothing is opened. */
  exists?(tenantId: string): boolean | Promise<boolean>;
};

/** Each tenant's resources, opened once on first use and closed together. */
export interface TenantRegistry<T extends object> {
  /**
   * The tenant's resources, opened on first use; concurrent callers share one opening, and a failed one is not kept.
   * @throws INVALID_ARGUMENT a malformed tenant id, NOT_FOUND a tenant `exists` denies, CLOSED after close, or what
   *   `open` throws
   */
  get(tenantId: string): Promise<T>;
  /** The tenants opened or opening (a failed opening is dropped). */
  opened(): string[];
  /** Closes every opened tenant (waiting for openings in flight). @throws the first error a tenant's close raised */
  close(): Promise<void>;
}

/** Creates a registry of per-tenant resources. @throws INVALID_ARGUMENT without an `open` function */
export function createTenantRegistry<T extends object>(options: TenantRegistryOptions<T>): TenantRegistry<T> {
  if (typeof options?.open !== 'function') {
    throw new ChronicleError('INVALID_ARGUMENT', 'createTenantRegistry needs an open(tenantId) function');
  }
  const tenants = new Map<string, Promise<T>>();
  let closing: Promise<void> | undefined;

  const openOne = async (tenantId: string): Promise<T> => {
    if (options.exists && !(await options.exists(tenantId))) {
      throw new ChronicleError('NOT_FOUND', `no tenant ${JSON.stringify(tenantId)}`);
    }
    const resources = await options.open(tenantId);
    // Closed while this one was opening: close skips an opening that fails, so it is closed here, once.
    if (closing) {
      await closeOf(resources);
      throw closedError();
    }
    return resources;
  };

  return {
    get(tenantId) {
      try {
        assertTenantId(tenantId);
      } catch (err) {
        return Promise.reject(err);
      }
      if (closing) return Promise.reject(closedError());
      let opening = tenants.get(tenantId);
      if (!opening) {
        opening = openOne(tenantId);
        tenants.set(tenantId, opening);
        // Forgotten on failure (NOT_FOUND, a store that would not open), so the next request tries again.
        opening.catch(() => {
          if (tenants.get(tenantId) === opening && !closing) tenants.delete(tenantId);
        });
      }
      return opening;
    },
    opened: () => [...tenants.keys()],
    close() {
      closing ??= (async () => {
        const results = await Promise.allSettled(
          [...tenants.values()].map(async (opening) => {
            const resources = await opening.catch(() => undefined);
            if (resources) await closeOf(resources);
          }),
        );
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return closing;
    },
  };
}

async function closeOf(resources: object): Promise<void> {
  const { close } = resources as TenantResources;
  if (typeof close === 'function') await close.call(resources);
}

function closedError(): ChronicleError {
  return new ChronicleError('CLOSED', 'the tenant registry is closed');
}
