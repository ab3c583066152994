// The Shop's JetStream names when none are configured, and how a NATS URL is shown in a message; shared by the
// configuration, the assembly and the connection so the three cannot disagree.

/** The relay's stream when SHOP_NATS_STREAM is unset. */
export const DEFAULT_STREAM = 'SHOP_EVENTS';
/** Events go to `<prefix>.<category>.<type>`; the prefix when SHOP_NATS_SUBJECTS is unset. */
export const DEFAULT_SUBJECT_PREFIX = 'shop.events';

/** A NATS URL may carry a token as its user name, not only a password: nothing before the @ is repeated. */
export function redactNatsUser(value: string): string {
  return value.replace(/\/\/[^/@,]*@/g, '//…@');
}
