// Every read model of the Shop, in one list for the projector.
import { catalogProjection } from './catalog.js';
import { customersProjection } from './customers.js';
import { inventoryProjection } from './inventory.js';
import { ordersProjection } from './orders.js';
import { salesProjection } from './sales.js';

export const projections = [customersProjection, catalogProjection, inventoryProjection, ordersProjection, salesProjection];
