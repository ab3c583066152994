import { type JetStreamManager, RetentionPolicy, StorageType, type StreamInfo } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { apiError } from './fixtures/fake-relay-broker.js';
import { ensureStream, streamConfig, streamOptions, subjectsCover } from './stream-setup.js';

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

// A JetStream manager where the stream is missing and creating it fails with `failure`; `later` is what info answers
// after that failure (the stream someone else created meanwhile), when given.
function refusingManager(failure: unknown, later?: StreamInfo): JetStreamManager {
  let infos = 0;
  const streams = {
    async info() {
      if (infos++ > 0 && later) return later;
      throw apiError(10059, 'stream not found');
    },
    async add() {
      throw failure;
    },
  };
  return { streams } as unknown as JetStreamManager;
}

describe('ensureStream, when JetStream refuses to create the stream', () => {
  // The stream's configuration refused: retrying the same request cannot succeed, so the relay fails and says why.
  it.each([
    [10065, 'subjects overlap with an existing stream'],
    [10052, 'duplicates window can not be larger then max age'],
    [10074, 'replicas > 1 not supported in non-clustered mode'],
    [10003, 'bad request'],
    [10025, 'invalid JSON'],
    [10113, 'account requires a stream config to have max bytes set'],
    [10122, 'stream max bytes exceeds account limit max stream bytes'],
    [10128, 'Stream name can not contain path separators'],
  ])('%i (%s) is INVALID_ARGUMENT, naming the stream', async (code, description) => {
    const refused = ensureStream(refusingManager(apiError(code, description)), { name: 'ORDERS' }, 'shop');
    await expect(refused).rejects.toMatchObject({
      name: 'ChronicleError',
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining(`JetStream refused to create stream ORDERS with subjects shop.>: ${description}`),
      details: { stream: 'ORDERS', jetStreamCode: code },
    });
  });

  // The server's state, not the request: a later attempt may succeed, so the relay retries with backoff.
  it.each([
    [10008, 'JetStream system temporarily unavailable'],
    [10023, 'insufficient resources'],
    [10047, 'insufficient storage resources available'],
    [10028, 'insufficient memory resources available'],
    [10005, 'no suitable peers for placement'],
    [10009, 'JetStream cluster can not handle request'],
    [10004, 'incomplete results'],
    [10027, 'maximum number of streams reached'],
    [10002, 'resource limits exceeded for account'],
    [10039, 'JetStream not enabled for account'],
    [10049, 'a code this relay does not know'],
    // Created meanwhile, and gone again when read: a race that a retry settles.
    [10058, 'stream name already in use with a different configuration'],
  ])('%i (%s) is STORE_ERROR, keeping the cause', async (code, description) => {
    const failure = apiError(code, description);
    const refused = ensureStream(refusingManager(failure), { name: 'ORDERS' }, 'shop');
    await expect(refused).rejects.toMatchObject({
      name: 'ChronicleError',
      code: 'STORE_ERROR',
      message: expect.stringContaining(description),
      cause: failure,
      details: { jetStreamCode: code },
    });
  });

  it('is STORE_ERROR on a failure without a JetStream code (a timeout)', async () => {
    const timeout = Object.assign(new Error('TIMEOUT'), { name: 'TimeoutError' });
    await expect(ensureStream(refusingManager(timeout), { name: 'ORDERS' }, 'shop')).rejects.toMatchObject({
      code: 'STORE_ERROR',
      cause: timeout,
    });
  });

  it('uses the stream another relay created meanwhile (10058), checked like any other', async () => {
    const info = { config: { name: 'ORDERS', subjects: ['shop.>'] } } as unknown as StreamInfo;
    const jsm = refusingManager(apiError(10058, 'stream name already in use with a different configuration'), info);
    expect(await ensureStream(jsm, { name: 'ORDERS' }, 'shop')).toBe(info);
    const other = { config: { name: 'ORDERS', subjects: ['other.>'] } } as unknown as StreamInfo;
    const elsewhere = refusingManager(apiError(10058, 'stream name already in use with a different configuration'), other);
    await expect(ensureStream(elsewhere, { name: 'ORDERS' }, 'shop')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: /do not cover shop/,
    });
  });
});
