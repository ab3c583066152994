// Uniqueness without claim streams, under concurrency: of many commands racing for one sku or one address, exactly
// one wins; the others conflict, decide again on the winner's event, and are refused.
import { createCommandBus, createInMemoryEventStore, type Principal } from 'chronicle-es';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '../commands.js';
import { countConflicts } from './conflict-counter.js';

const admin: Principal = { id: 'root', roles: ['admin'] };

function shop(options: { withoutConditions?: boolean } = {}) {
  const { store, count } = countConflicts(createInMemoryEventStore(), options);
  const bus = createCommandBus();
  registerCommands(bus, store);
  const outcome = (name: string, payload: unknown) =>
    bus.dispatch(name, payload, { principal: admin }).then(
      () => 'ok',
      (err: { code?: string }) => err.code,
    );
  return { outcome, count };
}

const register = (i: number, email: string) => ({ customerId: `c${i}`, name: `Customer ${i}`, email });
const create = (i: number, sku: string) => ({ productId: `p${i}`, sku, name: `Product ${i}`, priceCents: 100, currency: 'EUR' });
const oks = (outcomes: unknown[]) => outcomes.filter((o) => o === 'ok').length;

describe('racing for one sku or one address', () => {
  it('20 registrations with one address in different letter cases: exactly one wins', async () => {
    const { outcome, count } = shop();
    const emails = ['ada@example.com', 'ADA@example.com', 'Ada@Example.COM'];
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => outcome('RegisterCustomer', register(i, emails[i % 3]))),
    );
    expect(oks(outcomes)).toBe(1);
    expect(outcomes.filter((o) => o === 'DOMAIN_RULE')).toHaveLength(19);
    expect(count.conflicts).toBeGreaterThan(0);
  });

  it('20 products with one sku: exactly one wins', async () => {
    const { outcome } = shop();
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => outcome('CreateProduct', create(i, 'MUG-350'))));
    expect(oks(outcomes)).toBe(1);
  });

  it('an address released and taken at once: the taker wins only once the release is in', async () => {
    const { outcome } = shop();
    await outcome('RegisterCustomer', register(0, 'ada@example.com'));
    const [moved, ...takers] = await Promise.all([
      outcome('UpdateCustomerDetails', { customerId: 'c0', email: 'ada@lovelace.org' }),
      ...Array.from({ length: 10 }, (_, i) => outcome('RegisterCustomer', register(i + 1, 'ada@example.com'))),
    ]);
    expect(moved).toBe('ok');
    // Each taker decided either before the release (refused) or after it; of those after, one wins. Whoever asks
    // later gets the address only if no taker did: it is held once.
    const late = await outcome('RegisterCustomer', register(99, 'ada@example.com'));
    expect(oks(takers) + (late === 'ok' ? 1 : 0)).toBe(1);
  });

  it('without the append condition, several win (so the tests above can fail)', async () => {
    const { outcome } = shop({ withoutConditions: true });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => outcome('RegisterCustomer', register(i, 'ada@example.com'))),
    );
    expect(oks(outcomes)).toBeGreaterThan(1);
  });
});
