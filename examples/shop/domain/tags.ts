// The tags the Shop's uniqueness rules read and write, and the claim streams of its earlier versions that still count.
// One place, because a tag written under one spelling and read under another would silently make a rule vacuous.
import { createHmac } from 'node:crypto';
import { normalizeEmail } from '../messages/fields.js';

/**
 * The key of the e-mail tags' HMAC: `SHOP_EMAIL_TAG_KEY`, the same for every process on one log and never changed (a
 * new key makes the uniqueness rule blind to the tags written under the old one). The default is for development.
 */
const EMAIL_TAG_KEY = process.env.SHOP_EMAIL_TAG_KEY || 'shop-development-email-tag-key';

/** On the ProductCreated that takes a sku: `sku:MUG-350`. */
export const skuTag = (sku: string) => `sku:${sku}`;

/**
 * On the customer event that takes or releases an address (compared case-insensitively): `email:` and a keyed hash
 * (HMAC-SHA-256) of the address normalized. Tags are stored in plain text, so the address itself must not be one: a
 * forgotten customer's address would stay in the log.
 */
export const emailTag = (email: string) =>
  `email:${createHmac('sha256', EMAIL_TAG_KEY).update(normalizeEmail(email)).digest('base64url')}`;

/** Legacy: the tag earlier versions wrote, the address itself (`email:ada@example.com`). Read, never written. */
export const legacyEmailTag = (email: string) => `email:${normalizeEmail(email)}`;

/** Legacy: the stream where earlier versions claimed a sku (SkuClaimed). Read, never written. */
export const legacySkuStreamId = (sku: string) => `productSku-${sku}`;

/** Legacy: the stream where earlier versions claimed and released an address (EmailClaimed, EmailReleased). Read, never written. */
export const legacyEmailStreamId = (email: string) => `customerEmail-${normalizeEmail(email)}`;
