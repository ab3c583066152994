// The events every benchmark writes, so the SQLite and PostgreSQL runs and their bare-driver baselines store the same bytes.
import type { NewEvent } from 'chronicle-es';

/** ~250-byte JSON payload, like an order line with a few fields (235 bytes as JSON, plus metadata when stored). */
export const payload = (i: number) => ({
  orderId: `order-${i.toString().padStart(8, '0')}`,
  customerId: 'customer-00042',
  lines: [
    { productId: 'product-0001', quantity: 2, unitPriceCents: 1999 },
    { productId: 'product-0002', quantity: 1, unitPriceCents: 4999 },
  ],
  note: 'leave at the door, ring twice',
});

export type Payload = ReturnType<typeof payload>;

export const event = (i: number): NewEvent => ({ type: 'OrderPlaced', data: payload(i) });
