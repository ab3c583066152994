import { RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { streamConfig, streamOptions, subjectsCover } from './stream-setup.js';

describe('subjectsCover', () => {
  it.each([
    [['shop.>'], true],
    [['shop.events.>'], true],
    [['shop.events.*.*'], true],
    [['shop.events.*.>'], true],
    [['>'], true],
    [['*.*.*.*'], true],
    [['*.events.>'], true],
    [['other.>', 'shop.events.*.*'], true],
    [['shop.events.order.*'], false],
    [['shop.events.*'], false],
    [['shop.events'], false],
    [['shop.events.*.*.*'], false],
    [['shop.other.>'], false],
    [['shop.*'], false],
    [['*.*.*'], false],
    [['shop.events.order.*', 'shop.events.stock.*'], false],
    [[], false],
  ])('%j covers shop.events: %s', (subjects, covers) => {
    expect(subjectsCover(subjects, 'shop.events')).toBe(covers);
  });

  it('works for a one-token prefix', () => {
    expect(subjectsCover(['shop.>'], 'shop')).toBe(true);
    expect(subjectsCover(['shop.*.*'], 'shop')).toBe(true);
    expect(subjectsCover(['shop.events.>'], 'shop')).toBe(false);
    expect(subjectsCover(['shop.*'], 'shop')).toBe(false);
  });
});

describe('streamOptions', () => {
  it('takes a name or a name with settings', () => {
    expect(streamOptions('ORDERS')).toEqual({ name: 'ORDERS' });
    expect(streamOptions({ name: 'ORDERS', retention: 'workqueue', maxAgeMs: 60_000 })).toEqual({
      name: 'ORDERS',
      retention: 'workqueue',
      maxAgeMs: 60_000,
    });
  });

  it.each([
    [undefined, /stream must be/],
    ['', /name/],
    ['has space', /name/],
    ['a.b', /name/],
    ['a*', /name/],
    ['a>', /name/],
    ['a/b', /name/],
    ['x'.repeat(256), /name/],
    [{ name: 'S', retention: 'forever' }, /retention/],
    [{ name: 'S', storage: 'disk' }, /storage/],
    [{ name: 'S', replicas: 0 }, /replicas/],
    [{ name: 'S', replicas: 6 }, /replicas/],
    [{ name: 'S', maxAgeMs: -1 }, /maxAgeMs/],
    [{ name: 'S', maxBytes: 1.5 }, /maxBytes/],
    [{ name: 'S', maxMsgs: 0 }, /maxMsgs/],
    [{ name: 'S', duplicateWindowMs: '5' }, /duplicateWindowMs/],
    [{ name: 'S', maxAgeMs: 1000, duplicateWindowMs: 2000 }, /duplicateWindowMs must not exceed/],
  ])('refuses %j', (stream, message) => {
    expect(() => streamOptions(stream)).toThrow(message);
    try {
      streamOptions(stream);
    } catch (err) {
      expect(err).toMatchObject({ name: 'ChronicleError', code: 'INVALID_ARGUMENT' });
    }
  });
});

describe('streamConfig', () => {
  it('creates subjects <prefix>.> with the defaults', () => {
    expect(streamConfig({ name: 'ORDERS' }, 'shop.events')).toEqual({
      name: 'ORDERS',
      subjects: ['shop.events.>'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: 1,
    });
  });

  it('maps every setting, durations in nanoseconds', () => {
    expect(
      streamConfig(
        {
          name: 'ORDERS',
          retention: 'interest',
          storage: 'memory',
          replicas: 3,
          maxAgeMs: 60_000,
          maxBytes: 1024,
          maxMsgs: 10,
          duplicateWindowMs: 5000,
        },
        'shop',
      ),
    ).toEqual({
      name: 'ORDERS',
      subjects: ['shop.>'],
      retention: RetentionPolicy.Interest,
      storage: StorageType.Memory,
      num_replicas: 3,
      max_age: 60_000_000_000,
      max_bytes: 1024,
      max_msgs: 10,
      duplicate_window: 5_000_000_000,
    });
  });
});
