// The tags the Shop's uniqueness rules read and write, and the claim streams of its earlier versions that still count.
// One place, because a tag written under one spelling and read under another would silently make a rule vacuous.
import { normalizeEmail } from '../messages/fields.js';

/** On the ProductCreated that takes a sku: `sku:MUG-350`. */
export const skuTag = (sku: string) => `sku:${sku}`;

/** On the customer event that takes or releases an address (compared case-insensitively): `email:ada@example.com`. */
export const emailTag = (email: string) => `email:${normalizeEmail(email)}`;

/** Legacy: the stream where earlier versions claimed a sku (SkuClaimed). Read, never written. */
export const legacySkuStreamId = (sku: string) => `productSku-${sku}`;

/** Legacy: the stream where earlier versions claimed and released an address (EmailClaimed, EmailReleased). Read, never written. */
export const legacyEmailStreamId = (email: string) => `customerEmail-${normalizeEmail(email)}`;
