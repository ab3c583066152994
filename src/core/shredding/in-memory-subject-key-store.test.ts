// The key-store conformance suite against the in-memory twin.
import { createInMemorySubjectKeyStore } from 'chronicle-es';
import { describeSubjectKeyStoreConformance } from 'chronicle-es/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';

describeSubjectKeyStoreConformance(
  'in-memory',
  { create: () => createInMemorySubjectKeyStore() },
  { describe, it, beforeAll, afterAll },
);
