import { AssertionError } from 'node:assert';
import { command, defineProcessManager, schedule } from 'chronicle-es';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ExpireOrder,
  expiryKey,
  type OrderProcessState,
  orderProcess,
  ReleaseOrder,
  ReserveStock,
} from '../core/workflows/fixtures/process-orders.js';
import { processManagerSpec } from './process-manager-spec.js';

const typedProcess = orderProcess();

const placed = (orderId: string, amount = 1) => ({ type: 'OrderPlaced' as const, data: { orderId, amount } });
const paid = (orderId: string) => ({ type: 'OrderPaid' as const, data: { orderId } });

describe('processManagerSpec', () => {
  it('asserts the commands sent, the schedules made (after resolved against its clock) and the state', async () => {
    const outcome = await processManagerSpec(typedProcess, { now: '2031-05-01T10:00:00Z' })
      .given()
      .when(placed('o1', 3))
      .then({
        send: [command(ReserveStock, { orderId: 'o1', amount: 3 })],
        schedule: [schedule(ExpireOrder, { orderId: 'o1' }, { after: 60_000, key: expiryKey('o1') })],
        state: { amount: 3, status: 'placed' },
      });
    expect(outcome.key).toBe('o1');
    // What the runtime stores: the due time, not the delay.
    expect(outcome.schedule[0].data).toEqual({
      key: 'expire-o1',
      command: { type: 'ExpireOrder', data: { orderId: 'o1' } },
      at: '2031-05-01T10:01:00.000Z',
    });
    // The same schedule given with `at` is the same schedule.
    await processManagerSpec(typedProcess, { now: '2031-05-01T10:00:00Z' })
      .given()
      .when(placed('o1', 3))
      .then({
        send: [command(ReserveStock, { orderId: 'o1', amount: 3 })],
        schedule: [schedule(ExpireOrder, { orderId: 'o1' }, { at: '2031-05-01T10:01:00Z', key: 'expire-o1' })],
      });
  });

  it('builds the state from the given events, per correlation key', async () => {
    const spec = processManagerSpec(typedProcess).given([placed('a', 2), placed('b', 7)]);
    await spec.when(paid('a')).then({ cancel: [expiryKey('a')], state: null });
    // Another key's state is its own; paying an order with no process does nothing.
    await spec.when(paid('b')).then({ cancel: [expiryKey('b')], state: null });
    await processManagerSpec(typedProcess)
      .given([placed('a'), paid('a')])
      .when(paid('a'))
      .then({ state: null });
  });

  it('fails when the step did anything else, missed something, or left another state', async () => {
    const spec = processManagerSpec(typedProcess).given();
    await expect(spec.when(placed('o2')).then({ send: [command(ReserveStock, { orderId: 'o2', amount: 1 })] })).rejects.toThrow(
      /commands scheduled/,
    );
    await expect(
      spec.when(placed('o2')).then({
        send: [command(ReserveStock, { orderId: 'o2', amount: 2 })],
        schedule: [schedule(ExpireOrder, { orderId: 'o2' }, { after: 60_000, key: expiryKey('o2') })],
      }),
    ).rejects.toThrow(AssertionError);
    await expect(
      spec.when(placed('o2')).then({
        send: [command(ReserveStock, { orderId: 'o2', amount: 1 })],
        schedule: [schedule(ExpireOrder, { orderId: 'o2' }, { after: 60_000, key: expiryKey('o2') })],
        state: { amount: 1, status: 'refused' },
      }),
    ).rejects.toThrow(/state/);
  });

  it('runs onRefused for a command a given step sent, with the state the given events left', async () => {
    const spec = processManagerSpec(typedProcess).given([placed('big', 500)]);
    await spec.whenRefused({ command: 'ReserveStock', code: 'DOMAIN_RULE', message: 'cannot reserve 500 units' }).then({
      send: [command(ReleaseOrder, { orderId: 'big', reason: 'DOMAIN_RULE' })],
      state: { amount: 500, status: 'refused', refusals: 1 },
    });
    await spec.whenRefused({ command: command(ReserveStock, { orderId: 'big', amount: 500 }), code: 'NOT_FOUND' }).then({
      send: [command(ReleaseOrder, { orderId: 'big', reason: 'NOT_FOUND' })],
      state: { amount: 500, status: 'refused', refusals: 1 },
    });
    // A command no given step sent cannot be refused.
    await expect(spec.whenRefused({ command: 'ExpireOrder' }).outcome()).rejects.toThrow(/no earlier step sent ExpireOrder/);
    await expect(
      processManagerSpec(orderProcess({ onRefused: undefined }))
        .given([placed('big', 500)])
        .whenRefused({ command: 'ReserveStock' })
        .outcome(),
    ).rejects.toThrow(/has no onRefused/);
  });

  it('asserts failures of a step by code, and skips events the process does not correlate', async () => {
    const strict = defineProcessManager({
      name: 'strict',
      version: 1,
      handlers: {
        Bad: () => ({ state: { n: 1n } }),
        Boom: () => {
          throw new Error('handler bug');
        },
      },
    });
    await processManagerSpec(strict).given().when({ type: 'Bad', data: {} }).thenFails('INVALID_ARGUMENT', /JSON/);
    await processManagerSpec(strict)
      .given()
      .when({ type: 'Boom', data: {} })
      .thenFails(/handler bug/);
    await expect(processManagerSpec(strict).given().when({ type: 'Boom', data: {} }).thenFails('DOMAIN_RULE')).rejects.toThrow(
      AssertionError,
    );
    await expect(processManagerSpec(typedProcess).given().when(placed('x')).thenFails('DOMAIN_RULE')).rejects.toThrow(/to fail/);
    const skipped = await processManagerSpec(orderProcess())
      .given()
      .when({ type: 'OrderPlaced', data: { amount: 1 } as never })
      .then({});
    expect(skipped.key).toBeUndefined();
  });

  it("checks a step's shape and the correlation key as the runtime does: a clear INVALID_ARGUMENT", async () => {
    const shapes = defineProcessManager({
      name: 'shapes',
      version: 1,
      correlate: (e) => (e.type === 'NoKey' ? '' : e.streamId),
      handlers: {
        NotArray: () => ({ send: command(ReserveStock, { orderId: 'o', amount: 1 }) as never }),
        EmptyType: () => ({ send: [{ type: '', data: {} }] }),
        BadCancel: () => ({ cancel: [''] }),
        BadSchedule: () => ({ schedule: [{ type: 'chronicle.CommandScheduled', data: { key: 'k' } } as never] }),
        NotObject: () => 42 as never,
        NoKey: () => undefined,
        Fine: () => ({ send: [command(ReserveStock, { orderId: 'o', amount: 1 })] }),
      },
    });
    const spec = processManagerSpec(shapes).given();
    await spec.when({ type: 'NotArray', data: {} }).thenFails('INVALID_ARGUMENT', /send must be an array/);
    await spec.when({ type: 'EmptyType', data: {} }).thenFails('INVALID_ARGUMENT', /\{ type, data \}/);
    await spec.when({ type: 'BadCancel', data: {} }).thenFails('INVALID_ARGUMENT');
    await spec.when({ type: 'BadSchedule', data: {} }).thenFails('INVALID_ARGUMENT');
    await spec.when({ type: 'NotObject', data: {} }).thenFails('INVALID_ARGUMENT', /a step must be an object/);
    await spec.when({ type: 'NoKey', data: {} }).thenFails('INVALID_ARGUMENT', /correlate must return/);
    await spec.when({ type: 'Fine', data: {} }).then({ send: [command(ReserveStock, { orderId: 'o', amount: 1 })] });
  });

  it("hands refusals of onRefused's own commands back up to the runtime's round limit, then only records them", async () => {
    const stubborn = orderProcess({
      onRefused: (refusal, { key, state }) => ({
        state: { amount: state?.amount ?? 0, status: 'refused', refusals: (state?.refusals ?? 0) + 1 },
        send: [command(ReleaseOrder, { orderId: key, reason: refusal.code })],
      }),
    });
    const again = { refused: { command: 'ReleaseOrder' } };
    const rounds = (n: number) => [placed('big', 500), { refused: { command: 'ReserveStock' } }, ...Array(n).fill(again)];
    // Refusals at rounds 0, 1 and 2 each run onRefused; the one at round 3 is only recorded.
    await processManagerSpec(stubborn)
      .given(rounds(1))
      .whenRefused({ command: 'ReleaseOrder' })
      .then({
        send: [command(ReleaseOrder, { orderId: 'big', reason: 'DOMAIN_RULE' })],
        state: { amount: 500, status: 'refused', refusals: 3 },
      });
    await processManagerSpec(stubborn)
      .given(rounds(2))
      .whenRefused({ command: 'ReleaseOrder' })
      .then({ state: { amount: 500, status: 'refused', refusals: 3 } });
  });

  it('gives its events ids, positions, versions and the clock as their timestamp', async () => {
    const seen: unknown[] = [];
    const watcher = defineProcessManager({
      name: 'watcher',
      version: 1,
      handlers: {
        Seen: (event, { now }) => {
          seen.push({ id: event.id, position: event.position, version: event.version, at: event.metadata.timestamp, now });
          return undefined;
        },
      },
    });
    await processManagerSpec(watcher, { now: 0 })
      .given([
        { type: 'Seen', data: {} },
        { type: 'Seen', data: {}, streamId: 'other', id: 'mine' },
      ])
      .when({ type: 'Seen', data: {} })
      .then({});
    expect(seen).toEqual([
      { id: 'spec-event-1', position: 1, version: 1, at: '1970-01-01T00:00:00.000Z', now: 0 },
      { id: 'mine', position: 2, version: 1, at: '1970-01-01T00:00:00.000Z', now: 0 },
      { id: 'spec-event-3', position: 3, version: 2, at: '1970-01-01T00:00:00.000Z', now: 0 },
    ]);
    expect(() => processManagerSpec(watcher, { now: 'not a time' })).toThrow(/now must be a time/);
  });

  it('types the events of a scenario by the process definitions, and the expected state by its state', () => {
    const spec = processManagerSpec(typedProcess).given([placed('t')]);
    // Type checks only (tsc runs over this file).
    const wrong = () => {
      // @ts-expect-error OrderPlaced needs an amount
      processManagerSpec(typedProcess).given([{ type: 'OrderPlaced', data: { orderId: 'x' } }]);
      // @ts-expect-error not one of the process's events
      spec.when({ type: 'OrderShipped', data: {} });
      // @ts-expect-error the state is the process's
      void spec.when(paid('t')).then({ state: { amount: 'many' } });
    };
    void wrong;
    expectTypeOf(spec.when(paid('t')).outcome())
      .resolves.toHaveProperty('state')
      .toEqualTypeOf<OrderProcessState | undefined>();
  });
});
