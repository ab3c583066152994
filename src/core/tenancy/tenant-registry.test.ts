import { describe, expect, it } from 'vitest';
import { isChronicleError } from '../errors.js';
import { createTenantRegistry } from './tenant-registry.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return isChronicleError(err) ? err.code : `not a ChronicleError: ${String(err)}`;
  }
}

describe('createTenantRegistry', () => {
  it('opens a tenant once however many ask at the same time, and keeps it', async () => {
    const opens: string[] = [];
    const registry = createTenantRegistry({
      async open(tenantId) {
        opens.push(tenantId);
        await new Promise((r) => setTimeout(r, 5));
        return { tenantId };
      },
    });
    const got = await Promise.all([...Array(20)].map((_, i) => registry.get(i % 2 === 0 ? 'a' : 'b')));
    expect(opens.sort()).toEqual(['a', 'b']);
    expect(new Set(got.filter((r) => r.tenantId === 'a')).size).toBe(1);
    expect(await registry.get('a')).toBe(got[0]);
    expect(registry.opened().sort()).toEqual(['a', 'b']);
  });

  it('forgets a failed opening, so the next request tries again', async () => {
    let attempts = 0;
    const registry = createTenantRegistry({
      open(tenantId) {
        attempts++;
        if (attempts === 1) throw new Error('disk full');
        return { tenantId };
      },
    });
    await expect(registry.get('a')).rejects.toThrow('disk full');
    expect(registry.opened()).toEqual([]);
    expect(await registry.get('a')).toEqual({ tenantId: 'a' });
    expect(attempts).toBe(2);
  });

  it('refuses malformed ids and tenants `exists` denies before opening anything', async () => {
    const opens: string[] = [];
    const registry = createTenantRegistry({
      exists: (tenantId) => tenantId === 'a',
      open(tenantId) {
        opens.push(tenantId);
        return {};
      },
    });
    expect(await codeOf(registry.get('../a'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(registry.get(undefined as unknown as string))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(registry.get('b'))).toBe('NOT_FOUND');
    expect(opens).toEqual([]);
    await registry.get('a');
    expect(opens).toEqual(['a']);
  });

  it('closes every opened tenant once, one in flight too, and opens none after', async () => {
    const closed: string[] = [];
    const slow = deferred<void>();
    const registry = createTenantRegistry({
      async open(tenantId) {
        if (tenantId === 'slow') await slow.promise;
        return { close: async () => void closed.push(tenantId) };
      },
    });
    await registry.get('a');
    await registry.get('b');
    const inFlight = registry.get('slow');
    const closing = registry.close();
    expect(registry.close()).toBe(closing);
    slow.resolve();
    expect(await codeOf(inFlight)).toBe('CLOSED');
    await closing;
    expect(closed.sort()).toEqual(['a', 'b', 'slow']);
    expect(await codeOf(registry.get('a'))).toBe('CLOSED');
  });

  it("closes the others when one tenant's close fails, then reports that failure", async () => {
    const closed: string[] = [];
    const registry = createTenantRegistry({
      open: (tenantId) => ({
        close() {
          if (tenantId === 'a') throw new Error('a would not close');
          closed.push(tenantId);
        },
      }),
    });
    await Promise.all([registry.get('a'), registry.get('b'), registry.get('c')]);
    await expect(registry.close()).rejects.toThrow('a would not close');
    expect(closed.sort()).toEqual(['b', 'c']);
  });

  it('needs an open function', () => {
    expect(() => createTenantRegistry({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
