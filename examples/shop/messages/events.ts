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
import { CustomerDetailsUpdated, CustomerForgotten, CustomerRegistered, EmailClaimed, EmailReleased } from './customers.js';
import { CustomerNotified, ShipmentAllocated, ShipmentReleased } from './fulfilment.js';
import { OrderCancelled, OrderCreated, OrderExpired, OrderPaid, OrderShipped } from './orders.js';
import { LowStockAlertCleared, LowStockAlertRaised } from './stock-alerts.js';

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
  CustomerForgotten,
  EmailClaimed,
  EmailReleased,
  OrderCreated,
  OrderPaid,
  OrderShipped,
  OrderCancelled,
  OrderExpired,
  ShipmentAllocated,
  ShipmentReleased,
  CustomerNotified,
  LowStockAlertRaised,
  LowStockAlertCleared,
] as const;
