// The key store port of crypto-shredding: one data key per subject (a customer, a person), created on first use and
// deleted by `forget`. Deleting the key is what erases the subject's personal data from an append-only log.
import { randomBytes, randomUUID } from 'node:crypto';
import { ChronicleError } from '../errors.js';
import { nameProblem } from '../name-rules.js';

/** A subject's data key: `id` names this key (a subject forgotten and written again gets another), `key` is 32 bytes. */
export type SubjectKey = { readonly id: string; readonly key: Uint8Array };

/**
 * Where subject keys live. Every implementation passes `describeSubjectKeyStoreConformance` from chronicle/testing.
 * Subject ids are data: non-empty strings up to 512 characters without control characters.
 */
export interface SubjectKeyStore {
  /**
   * The key of each subject, created for those that have none; concurrent callers (in any process) get the same key.
   * Resolves once created keys are durable.
   * @throws INVALID_ARGUMENT a malformed subject id; CLOSED; STORE_ERROR
   */
  keysFor(subjects: readonly string[]): Promise<Map<string, SubjectKey>>;
  /**
   * The keys that exist among `subjects` (a forgotten or never-keyed subject is absent); creates nothing.
   * @throws INVALID_ARGUMENT a malformed subject id; CLOSED; STORE_ERROR
   */
  findKeys(subjects: readonly string[]): Promise<Map<string, SubjectKey>>;
  /**
   * Deletes the subject's key, so nothing encrypted with it can be read again; true when there was one. Idempotent.
   * @throws INVALID_ARGUMENT a malformed subject id; CLOSED; STORE_ERROR
   */
  forget(subject: string): Promise<boolean>;
  /** Closes the store (a store sharing a connection it was given leaves that open). */
  close(): Promise<void>;
}

/** A fresh random key. */
export function newSubjectKey(): SubjectKey {
  return { id: randomUUID(), key: new Uint8Array(randomBytes(32)) };
}

/** @throws INVALID_ARGUMENT unless `subjects` is an array of well-formed subject ids */
export function assertSubjects(subjects: unknown): asserts subjects is readonly string[] {
  if (!Array.isArray(subjects)) throw new ChronicleError('INVALID_ARGUMENT', 'subjects must be an array of subject ids');
  for (const subject of subjects) assertSubject(subject);
}

/** @throws INVALID_ARGUMENT unless `subject` is a well-formed subject id */
export function assertSubject(subject: unknown): asserts subject is string {
  const problem = nameProblem(subject, 'subject id');
  if (problem !== undefined) throw new ChronicleError('INVALID_ARGUMENT', problem);
}
