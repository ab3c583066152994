// Sums of cents across orders, kept as decimal strings: one order's total is a safe integer (messages/fields.ts),
// a sum over many orders is not — and SQLite would hand an INTEGER above 2^53 back as a rounded JS number.

/** `sum + delta`, exactly; `sum` is a stored decimal string (undefined or null for none yet). */
export function addCents(sum: string | null | undefined, delta: number): string {
  return (BigInt(sum ?? '0') + BigInt(delta)).toString();
}
