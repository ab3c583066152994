// Fulfilment: what happens to a paid order besides the customer's and the clerk's commands. The fulfilment process
// (processes/fulfilment.ts) sends these as the Shop's workflows; admin may send them by hand.
import { defineCommand, defineEvent, personal } from 'chronicle-es';
import { z } from 'zod';
import { may, SYSTEM_ROLE } from './access.js';
import { entityId } from './fields.js';

/** The one warehouse the Shop ships from so far; the allocation names it so a second one changes no event. */
export const WAREHOUSE = 'main';

export const AllocateShipment = defineCommand('AllocateShipment', z.strictObject({ orderId: entityId }), {
  description:
    'Reserves a paid order for shipping on its shipment stream (shipment-<orderId>); refused for an order not paid, ' +
    'or cancelled or expired meanwhile; a repeat does nothing. Sent by the Shop when an order is paid.',
  roles: may(SYSTEM_ROLE),
});

export const ReleaseShipment = defineCommand('ReleaseShipment', z.strictObject({ orderId: entityId }), {
  description:
    'Returns a cancelled order’s allocated units to the warehouse; without an allocation it does nothing. Sent by the ' +
    'Shop when an allocated order is cancelled.',
  roles: may(SYSTEM_ROLE),
});

/** The topics a customer is told about; each is told once per order. */
export const NOTIFICATION_TOPICS = ['order-shipped'] as const;

export const NotifyCustomer = defineCommand(
  'NotifyCustomer',
  z.strictObject({ orderId: entityId, topic: z.enum(NOTIFICATION_TOPICS) }),
  {
    description:
      'Records that the order’s customer is to be told about `topic` (an outbox event a mailer reads; no mail is ' +
      'sent here), once per order and topic. Sent by the Shop when an order ships.',
    roles: may(SYSTEM_ROLE),
  },
);

/** A paid order's units are set aside in a warehouse, to be shipped. */
export const ShipmentAllocated = defineEvent(
  'ShipmentAllocated',
  z.object({
    orderId: z.string(),
    warehouse: z.string(),
    lines: z.array(z.object({ productId: z.string(), quantity: z.number().int() })),
  }),
);

/** A cancelled order's allocation is undone: its units are no longer set aside for it. */
export const ShipmentReleased = defineEvent('ShipmentReleased', z.object({ orderId: z.string(), warehouse: z.string() }));

/** Outbox: the customer is to be told `topic` at `email`, as the address was when this was decided. */
export const CustomerNotified = defineEvent(
  'CustomerNotified',
  z.object({
    orderId: z.string(),
    customerId: z.string(),
    name: personal(z.string()),
    email: personal(z.string()),
    topic: z.enum(NOTIFICATION_TOPICS),
  }),
  { subject: 'customerId' },
);
