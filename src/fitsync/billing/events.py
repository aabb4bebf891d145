"""Events billing publishes (names from ARCHITECTURE.md, plus ``product.stock_low``).

- ``payment.succeeded`` ``{payment_id, invoice_id, client_id, amount, currency, method,
  provider}`` — the communications context emails the receipt (its content from
  ``billing.public.get_invoice``).
- ``payment.failed`` ``{invoice_id, subscription_id, client_id, amount, currency,
  attempt, reason, next_retry_at}``.
- ``subscription.changed`` ``{subscription_id, client_id, plan_id, from_status,
  to_status, reason, current_period_end}``.
- ``product.stock_low`` ``{product_id, sku, name, stock, threshold}`` — when a sale or
  adjustment takes the stock to or below the product's threshold.

Billing reacts to scheduling's ``booking.created`` and ``booking.cancelled`` (see
handlers.py).
"""

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
SUBSCRIPTION_CHANGED = "subscription.changed"
STOCK_LOW = "product.stock_low"

# Scheduling's events, by name (billing must not import scheduling).
BOOKING_CREATED = "booking.created"
BOOKING_CANCELLED = "booking.cancelled"
