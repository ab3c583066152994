import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { counter } from '../core/fixtures/counter.js';
import { deciderSpec } from './decider-spec.js';

const inc = (by: number) => ({ type: 'Increment' as const, data: { counterId: 'c', by } });

describe('deciderSpec', () => {
  it('passes when the decider produces the expected events', () => {
    deciderSpec(counter)
      .given([{ type: 'Incremented', data: { by: 1 } }])
      .when(inc(2))
      .then([{ type: 'Incremented', data: { by: 2 } }]);
  });

  it('fails when the events differ', () => {
    expect(() =>
      deciderSpec(counter)
        .given()
        .when(inc(2))
        .then([{ type: 'Incremented', data: { by: 3 } }]),
    ).toThrow(AssertionError);
  });

  it('checks refusals by code and message, and fails when nothing is thrown', () => {
    const spec = deciderSpec(counter).given([{ type: 'Incremented', data: { by: 100 } }]);
    spec.when(inc(1)).thenThrows('DOMAIN_RULE', /would pass 100/);
    expect(() => spec.when(inc(1)).thenThrows('CONCURRENCY_CONFLICT')).toThrow(AssertionError);
    expect(() => deciderSpec(counter).given().when(inc(1)).thenThrows('DOMAIN_RULE')).toThrow(/produced/);
  });
});
