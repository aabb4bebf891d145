"""Every billing endpoint of docs/API.md is in the OpenAPI document."""

from __future__ import annotations

import httpx

CONTRACT = [
    ("post", "/api/v1/billing/plans"),
    ("get", "/api/v1/billing/plans"),
    ("post", "/api/v1/billing/subscriptions"),
    ("post", "/api/v1/billing/subscriptions/{subscription_id}/pause"),
    ("post", "/api/v1/billing/subscriptions/{subscription_id}/resume"),
    ("post", "/api/v1/billing/subscriptions/{subscription_id}/cancel"),
    ("post", "/api/v1/billing/products"),
    ("get", "/api/v1/billing/products"),
    ("get", "/api/v1/billing/products/{product_id}"),
    ("patch", "/api/v1/billing/products/{product_id}"),
    ("post", "/api/v1/billing/products/{product_id}/stock-adjustments"),
    ("post", "/api/v1/billing/sales"),
    ("get", "/api/v1/billing/invoices"),
    ("get", "/api/v1/billing/invoices/{invoice_id}"),
    ("get", "/api/v1/billing/invoices/{invoice_id}.pdf"),
    ("post", "/api/v1/billing/invoices/{invoice_id}/refunds"),
    ("get", "/api/v1/billing/reports/revenue"),
    ("get", "/api/v1/billing/reports/ledger-check"),
    ("post", "/api/v1/billing/webhooks/{provider}"),
]


async def test_the_billing_contract_is_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("http://testserver/api/openapi.json")).json()
    for method, path in CONTRACT:
        assert method in spec["paths"].get(path, {}), (method, path)
    sale = spec["paths"]["/api/v1/billing/sales"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in sale["parameters"])
