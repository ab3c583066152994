// What every command gets: the output, and the stores the global options name, opened on first use and closed once
// the command ends.
import { ChronicleError, type EventStore, type ProjectionStore } from 'chronicle-es';
import type { Output } from './output.js';
import { openEventStore, openReadStore, parseStore, type StoreNaming, type StoreSpec } from './stores.js';
import { resolveTenantOption } from './tenant-option.js';

/** The global options, as commander parses them. */
export type GlobalOptions = {
  store?: string;
  readStore?: string;
  schema: string;
  readSchema?: string;
  redisPrefix: string;
  /** The tenant whose stores the `{tenant}` placeholders name (see resolveTenantOption). */
  tenant?: string;
  json?: boolean;
};

export class Context {
  private events: Promise<EventStore> | undefined;
  private read: Promise<ProjectionStore<unknown, unknown>> | undefined;

  private resolved: GlobalOptions | undefined;

  constructor(
    readonly out: Output,
    private readonly given: GlobalOptions,
  ) {}

  // Resolved on first use, inside the command's action, so a bad --tenant is reported like any bad option.
  private get options(): GlobalOptions {
    this.resolved ??= resolveTenantOption(this.given);
    return this.resolved;
  }

  private get naming(): StoreNaming {
    return { schema: this.options.schema, readSchema: this.options.readSchema, redisPrefix: this.options.redisPrefix };
  }

  /** The event store `--store` names. @throws INVALID_ARGUMENT when it is not given or not a store */
  storeSpec(): StoreSpec {
    if (this.options.store === undefined) {
      throw new ChronicleError('INVALID_ARGUMENT', 'this command needs --store <sqlite path | postgres url>');
    }
    return parseStore(this.options.store, this.naming, 'store');
  }

  /** The read store `--read-store` names, undefined when not given. @throws INVALID_ARGUMENT when not a store */
  readStoreSpec(): StoreSpec | undefined {
    return this.options.readStore === undefined ? undefined : parseStore(this.options.readStore, this.naming, 'read-store');
  }

  /** Whether --store was given. */
  get hasStore(): boolean {
    return this.options.store !== undefined;
  }

  /** The event store, opened once. `create` lets a missing SQLite file be created (an import's target). */
  eventStore(options: { create?: boolean } = {}): Promise<EventStore> {
    this.events ??= Promise.resolve().then(() => openEventStore(this.storeSpec(), options));
    return this.events;
  }

  /** The read store, opened once. @throws INVALID_ARGUMENT when --read-store is not given */
  readStore(): Promise<ProjectionStore<unknown, unknown>> {
    this.read ??= Promise.resolve().then(() => {
      const spec = this.readStoreSpec();
      if (!spec) {
        throw new ChronicleError('INVALID_ARGUMENT', 'this command needs --read-store <sqlite path | postgres url | redis url>');
      }
      return openReadStore(spec);
    });
    return this.read;
  }

  /** Closes what was opened; a store that failed to open has nothing to close. */
  async close(): Promise<void> {
    const opened = [this.events, this.read].filter((p) => p !== undefined);
    await Promise.all(
      opened.map((p) =>
        (p as Promise<{ close(): Promise<void> }>).then(
          (store) => store.close().catch(() => {}),
          () => {},
        ),
      ),
    );
  }
}
