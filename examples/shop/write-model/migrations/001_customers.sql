-- Customers as a state-stored write model: one row per customer, its address normalized into a table of its own,
-- e-mail uniqueness (case-insensitive) enforced by a unique index. `version` is the version of the customer's stream.
CREATE TABLE customers (
  customer_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  email_normalized TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE UNIQUE INDEX customers_email_normalized ON customers (email_normalized);
CREATE TABLE customer_addresses (
  customer_id TEXT PRIMARY KEY REFERENCES customers (customer_id),
  street TEXT NOT NULL,
  city TEXT NOT NULL,
  postal_code TEXT NOT NULL,
  country TEXT NOT NULL
);
