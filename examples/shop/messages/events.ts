// Every event the Shop records: the catalog its projections are keyed by, so a handler's event data is typed.
import {
  ProductCreated,
  ProductDeleted,
  ProductPriceChanged,
  ProductRestocked,
  SkuClaimed,
  StockReleased,
  StockReserved,
  StockShipped,
} from './catalog.js';
import { CustomerDetailsUpdated, CustomerRegistered, EmailClaimed, EmailReleased } from './customers.js';
import { OrderCancelled, OrderCreated, OrderPaid, OrderShipped } from './orders.js';

export const shopEvents = [
  ProductCreated,
  ProductPriceChanged,
  ProductDeleted,
  ProductRestocked,
  StockReserved,
  StockReleased,
  StockShipped,
  SkuClaimed,
  CustomerRegistered,
  CustomerDetailsUpdated,
  EmailClaimed,
  EmailReleased,
  OrderCreated,
  OrderPaid,
  OrderShipped,
  OrderCancelled,
] as const;
