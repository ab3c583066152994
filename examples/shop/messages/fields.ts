// Field schemas shared by the Shop's messages: ids, money, names, paging.
import { z } from 'zod';

/** Client-chosen identifiers: short, URL-safe, and safe to embed in stream ids. */
export const entityId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'use letters, digits, and _ . : - (starting with a letter or digit)');

// Control characters have no place in a name, an address or a search, and NUL cannot be stored in a PostgreSQL text
// column at all: refused at the boundary (400), they can never stop a projection on one engine and not the other.
const CONTROL = /[\u0000-\u001f\u007f]/;
// Free text may keep its line breaks and tabs.
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** One line of text: trimmed, `min`–`max` characters, no control characters. */
export const line = (min: number, max: number) =>
  z
    .string()
    .trim()
    .min(min)
    .max(max)
    .refine((s) => !CONTROL.test(s), 'control characters are not allowed');

/** Free text: trimmed, at most `max` characters, line breaks and tabs allowed, other control characters not. */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((s) => !CONTROL_BUT_LINES.test(s), 'control characters other than line breaks and tabs are not allowed');

export const name = line(1, 200);

export const email = z.email().max(254);

/** Emails are unique case-insensitively. */
export const normalizeEmail = (value: string) => value.trim().toLowerCase();

const isoCurrencies = new Set(Intl.supportedValuesOf('currency'));

/** ISO 4217 code, e.g. EUR. */
export const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, 'an upper-case ISO 4217 code, e.g. EUR')
  .refine((code) => isoCurrencies.has(code), 'not an ISO 4217 currency');

/**
 * The dearest unit price: 10^9 cents (10 million units of the currency). With at most MAX_LINE_QUANTITY (10^4)
 * units a line and MAX_ORDER_LINES (100) lines an order (messages/orders.ts), an order totals at most
 * 10^9 · 10^4 · 100 = 10^15 cents < 2^53 ≈ 9.007 · 10^15: every line and order total is an exact JS number.
 * Sums across orders have no such bound (ten maximal orders pass 2^53) and are carried as `centsSum` strings.
 */
export const MAX_PRICE_CENTS = 1_000_000_000;

/** A unit price in integer minor units (cents). */
export const cents = z.number().int().min(0).max(MAX_PRICE_CENTS);

/** One order's total (or a line's): at most 10^15 cents, see MAX_PRICE_CENTS. */
export const orderCents = z.number().int().min(0).max(1_000_000_000_000_000);

/**
 * A sum of cents across orders (revenue, a customer's spending), as a decimal string: it may pass 2^53, where a JSON
 * number would be rounded by most clients. Negative only if refunds ever outweighed sales.
 */
export const centsSum = z.string().regex(/^-?\d+$/);

export const address = z.strictObject({
  street: line(1, 200),
  city: line(1, 100),
  postalCode: line(1, 20),
  /** ISO 3166-1 alpha-2. */
  country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code, e.g. DE'),
});
export type Address = z.output<typeof address>;

/** Page size of list queries. (Over HTTP, query-string text is coerced by the schema's types.) */
export const limit = z.number().int().min(1).max(100).default(20);

/** Opaque paging cursor returned as `nextCursor`. */
export const cursor = z.string().min(1).max(200);
