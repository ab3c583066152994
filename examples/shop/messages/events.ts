// Every event the Shop records or once recorded: the catalog its projections are keyed by, so a handler's event data is
// typed. The legacy claim events (SkuClaimed, EmailClaimed, EmailReleased) stay so logs written before tags validate.
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
