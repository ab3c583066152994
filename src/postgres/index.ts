// chronicle/postgres: the PostgreSQL adapters (pg 8) — event store, read store with projection leases.
export {};
