#!/usr/bin/env bash
# The curl session in README.md, verbatim: a product, a customer, an order, and its status read at the order's position.
set -euo pipefail
SHOP=${SHOP:-http://localhost:3000}
ADMIN_KEY=${ADMIN_KEY:?the admin key that npm start printed}
CUSTOMER_KEY=${CUSTOMER_KEY:?the customer key that npm start printed (its customer id is ada)}

send() { # send <command> <key> <json>
  curl -sS -X POST "$SHOP/commands/$1" -H "X-API-Key: $2" -H 'Content-Type: application/json' -d "$3"
  echo
}

# A clerk's (or admin's) job: put a product on sale and stock it.
send CreateProduct "$ADMIN_KEY" \
  '{"productId":"pour-over-kettle","sku":"BRW-KET-900","name":"Pour-over Kettle, 0.9 l","priceCents":4990,"currency":"EUR"}'
send RestockProduct "$ADMIN_KEY" '{"productId":"pour-over-kettle","quantity":25}'

# Ada signs up and orders, with her own key: a customer may act only as itself.
send RegisterCustomer "$CUSTOMER_KEY" '{"customerId":"ada","name":"Ada Lovelace","email":"ada@example.com"}'
order=$(send CreateOrder "$CUSTOMER_KEY" \
  '{"orderId":"ord-2001","customerId":"ada","lines":[{"productId":"pour-over-kettle","quantity":2}]}')
echo "$order"

# A command answers only with a status; its position lets the query wait until the read side has caught up.
position=$(echo "$order" | sed -E 's/.*"position":([0-9]+).*/\1/')
curl -sS "$SHOP/queries/GetOrderStatus?orderId=ord-2001&minPosition=$position" -H "X-API-Key: $CUSTOMER_KEY"
echo
