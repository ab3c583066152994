// ChronicleModule: the buses as injectable providers, handlers discovered among the app's providers, the projector
// and services on the app's lifecycle, and (optionally) chronicle-es/http's routes.
import {
  type DynamicModule,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ChronicleLifecycle } from './chronicle-lifecycle.js';
import { ChronicleRequest } from './chronicle-request.js';
import { type ChronicleModuleOptions, type ChronicleRuntime, createChronicleRuntime } from './chronicle-runtime.js';
import { ChronicleHttpController } from './http-controller.js';
import { CHRONICLE_OPTIONS, CHRONICLE_RUNTIME, COMMAND_BUS, PROJECTOR, QUERY_BUS } from './tokens.js';

/** forRootAsync's options: a factory (with its injections) resolving the module options. */
export type ChronicleModuleAsyncOptions = Pick<ModuleMetadata, 'imports'> & {
  useFactory: (...args: any[]) => ChronicleModuleOptions | Promise<ChronicleModuleOptions>;
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Serve the HTTP routes (the factory's `http` options then apply). Known here because controllers are static. */
  http?: boolean;
};

const derived = [
  {
    provide: CHRONICLE_RUNTIME,
    inject: [CHRONICLE_OPTIONS],
    useFactory: (options: ChronicleModuleOptions) => createChronicleRuntime(options),
  },
  { provide: COMMAND_BUS, inject: [CHRONICLE_RUNTIME], useFactory: (runtime: ChronicleRuntime) => runtime.commandBus },
  { provide: QUERY_BUS, inject: [CHRONICLE_RUNTIME], useFactory: (runtime: ChronicleRuntime) => runtime.queryBus },
  { provide: PROJECTOR, inject: [CHRONICLE_RUNTIME], useFactory: (runtime: ChronicleRuntime) => runtime.projector },
  ChronicleLifecycle,
  ChronicleRequest,
];
const exported = [COMMAND_BUS, QUERY_BUS, PROJECTOR, ChronicleRequest];

@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static forRoot/forRootAsync.
export class ChronicleModule {
  /**
   * The module over given stores and projections; global, so any module injects `COMMAND_BUS`, `QUERY_BUS`,
   * `PROJECTOR` and `ChronicleRequest`. Enable `app.enableShutdownHooks()` so SIGTERM stops it in order.
   * @throws INVALID_ARGUMENT (when the app is created) for projections without a read store, or two handlers for one message
   */
  static forRoot(options: ChronicleModuleOptions): DynamicModule {
    return {
      module: ChronicleModule,
      global: true,
      imports: [DiscoveryModule],
      controllers: options.http ? [ChronicleHttpController] : [],
      providers: [{ provide: CHRONICLE_OPTIONS, useValue: options }, ...derived],
      exports: exported,
    };
  }

  /**
   * The module with options from a factory (e.g. stores opened from a ConfigService).
   * @throws INVALID_ARGUMENT as forRoot, and when `http` is set but the factory gives no `http` options
   */
  static forRootAsync(options: ChronicleModuleAsyncOptions): DynamicModule {
    return {
      module: ChronicleModule,
      global: true,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      controllers: options.http ? [ChronicleHttpController] : [],
      providers: [{ provide: CHRONICLE_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory }, ...derived],
      exports: exported,
    };
  }
}
