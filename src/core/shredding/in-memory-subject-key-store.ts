// The in-memory twin of the key store port, for tests and for in-memory event stores.
import { ChronicleError } from '../errors.js';
import { assertSubject, assertSubjects, newSubjectKey, type SubjectKey, type SubjectKeyStore } from './subject-key-store.js';

/** A key store in memory: for tests and for the in-memory event store (its keys die with the process). */
export function createInMemorySubjectKeyStore(): SubjectKeyStore {
  const keys = new Map<string, SubjectKey>();
  let closed = false;
  const open = () => {
    if (closed) throw new ChronicleError('CLOSED', 'key store is closed');
  };
  // Callers get copies: a caller zeroing its buffer must not erase the stored key, nor a stored key outlive forget.
  const copy = (k: SubjectKey): SubjectKey => ({ id: k.id, key: new Uint8Array(k.key) });
  return {
    async keysFor(subjects) {
      open();
      assertSubjects(subjects);
      const found = new Map<string, SubjectKey>();
      for (const subject of subjects) {
        let key = keys.get(subject);
        if (key === undefined) {
          key = newSubjectKey();
          keys.set(subject, key);
        }
        found.set(subject, copy(key));
      }
      return found;
    },
    async findKeys(subjects) {
      open();
      assertSubjects(subjects);
      const found = new Map<string, SubjectKey>();
      for (const subject of subjects) {
        const key = keys.get(subject);
        if (key !== undefined) found.set(subject, copy(key));
      }
      return found;
    },
    async forget(subject) {
      open();
      assertSubject(subject);
      const key = keys.get(subject);
      if (key === undefined) return false;
      (key.key as Uint8Array).fill(0);
      keys.delete(subject);
      return true;
    },
    async close() {
      closed = true;
    },
  };
}
