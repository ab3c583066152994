// The module's Nest lifecycle: handlers registered at init, projector and services started on bootstrap, streams
// ended before the HTTP server closes, and everything stopped, in order, once it has.
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ChronicleError } from 'chronicle-es';
import type { ChronicleRuntime } from './chronicle-runtime.js';
import { handlerMarkOf } from './handler-decorators.js';
import { CHRONICLE_RUNTIME } from './tokens.js';

@Injectable()
export class ChronicleLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  constructor(
    @Inject(CHRONICLE_RUNTIME) private readonly runtime: ChronicleRuntime,
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
  ) {}

  // Every provider marked @CommandHandler / @QueryHandler, wherever it is declared, goes on the bus before anything runs.
  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const mark = handlerMarkOf(wrapper.metatype);
      if (!mark) continue;
      const instance = wrapper.instance as { execute(...args: unknown[]): Promise<any> } | undefined;
      if (!wrapper.isDependencyTreeStatic() || !instance) {
        throw new ChronicleError('INVALID_ARGUMENT', `handler of ${mark.definition.name} must be a singleton provider`);
      }
      if (mark.kind === 'command')
        this.runtime.commandBus.register(mark.definition, (command, context) => instance.execute(command, context));
      else this.runtime.queryBus.register(mark.definition, (payload, context) => instance.execute(payload, context));
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.runtime.start();
  }

  // Before Nest closes the HTTP server: open event streams would keep it from ever closing.
  beforeApplicationShutdown(): void {
    this.runtime.beforeClose();
  }

  // After the HTTP server has closed (its requests answered): drain, then stop, then close the stores.
  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
  }
}
