// Field schemas shared by the Shop's messages: ids, money, names, paging.
import { z } from 'zod';

/** Client-chosen identifiers: short, URL-safe, and safe to embed in stream ids. */
export const entityId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'use letters, digits, and _ . : - (starting with a letter or digit)');

export const name = z.string().trim().min(1).max(200);

export const email = z.email().max(254);

/** Emails are unique case-insensitively. */
export const normalizeEmail = (value: string) => value.trim().toLowerCase();

const isoCurrencies = new Set(Intl.supportedValuesOf('currency'));

/** ISO 4217 code, e.g. EUR. */
export const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'an upper-case ISO 4217 code, e.g. EUR')
  .refine((code) => isoCurrencies.has(code), 'not an ISO 4217 currency');

/** Money in integer minor units (cents); up to 1 billion units of the currency. */
export const cents = z.number().int().min(0).max(100_000_000_000);

export const address = z.strictObject({
  street: z.string().trim().min(1).max(200),
  city: z.string().trim().min(1).max(100),
  postalCode: z.string().trim().min(1).max(20),
  /** ISO 3166-1 alpha-2. */
  country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code, e.g. DE'),
});
export type Address = z.output<typeof address>;

/** Page size of list queries. (Over HTTP, query-string text is coerced by the schema's types.) */
export const limit = z.number().int().min(1).max(100).default(20);

/** Opaque paging cursor returned as `nextCursor`. */
export const cursor = z.string().min(1).max(200);
