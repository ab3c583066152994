// The Nest slice of the Shop: SQLite stores under a data directory, the orders projection, the handlers as providers,
// chronicle-es/http's routes and an application controller.
import { join } from 'node:path';
import { type DynamicModule, Module } from '@nestjs/common';
import type { Authenticator } from 'chronicle-es/fetch';
import { ChronicleModule } from 'chronicle-es/nest';
import { createSqliteEventStore, createSqliteReadStore } from 'chronicle-es/sqlite';
import { ordersProjection } from '../shop/projections/orders.js';
import {
  CreateOrderHandler,
  CreateProductHandler,
  GetOrderStatusHandler,
  RegisterCustomerHandler,
  RestockProductHandler,
} from './handlers.js';
import { OrdersController } from './orders-controller.js';
import { EVENT_STORE, ORDERS_READER, STORES } from './tokens.js';

export type ShopNestOptions = {
  dataDir: string;
  authenticate: Authenticator;
  pollIntervalMs?: number;
  /** Run the orders projection here. Default true; false for a process that only serves what another one projects. */
  project?: boolean;
};

type Stores = { eventStore: ReturnType<typeof createSqliteEventStore>; readStore: ReturnType<typeof createSqliteReadStore> };

// #region nest-module
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with a static factory.
export class ShopNestModule {
  /** The module for one data directory. */
  static register(options: ShopNestOptions): DynamicModule {
    const stores: Stores = {
      eventStore: createSqliteEventStore({ path: join(options.dataDir, 'events.db') }),
      readStore: createSqliteReadStore({ path: join(options.dataDir, 'read.db') }),
    };
    return {
      module: ShopNestModule,
      imports: [
        ChronicleModule.forRootAsync({
          http: true,
          inject: [STORES],
          imports: [StoresModule.of(stores)],
          useFactory: ({ eventStore, readStore }: Stores) => ({
            eventStore,
            readStore,
            projections: options.project === false ? [] : [ordersProjection],
            projector: { pollIntervalMs: options.pollIntervalMs ?? 50 },
            authenticate: options.authenticate,
            http: { openapi: { title: 'Shop on Nest', version: '1.0.0' } },
          }),
        }),
        StoresModule.of(stores),
      ],
      controllers: [OrdersController],
      providers: [
        CreateProductHandler,
        RestockProductHandler,
        RegisterCustomerHandler,
        CreateOrderHandler,
        GetOrderStatusHandler,
      ],
    };
  }
}
// #endregion nest-module

@Module({})
class StoresModule {
  static of(stores: Stores): DynamicModule {
    return {
      module: StoresModule,
      providers: [
        { provide: STORES, useValue: stores },
        { provide: EVENT_STORE, useValue: stores.eventStore },
        { provide: ORDERS_READER, useValue: stores.readStore.reader('orders') },
      ],
      exports: [STORES, EVENT_STORE, ORDERS_READER],
    };
  }
}
