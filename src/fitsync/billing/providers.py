"""The payment-provider port and its adapters.

- :class:`ManualProvider` — money taken at the desk (cash, card terminal, bank
  transfer) and recorded by staff. Always available; the default. It cannot charge
  anyone who is not there: an off-session charge (a renewal) stays ``pending``
  until staff record the payment.
- :class:`CardProvider` — a card processor speaking Stripe's API shape:
  ``POST /v1/payment_intents`` (confirmed at once, with an ``Idempotency-Key`` so a
  retried charge is the same charge), ``POST /v1/refunds``, and webhooks signed
  with ``Stripe-Signature: t=<unix>,v1=<hex hmac-sha256("<t>.<payload>")>``.

A charge's parameters (amount, currency, card, metadata) must be the same on a
retry with the same idempotency key, or the processor refuses it: the metadata
carries the gym and the key, never ids generated afresh on each attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from fitsync.kernel.errors import AppError, Invalid

ChargeStatus = Literal["succeeded", "failed", "pending"]
MANUAL_METHODS = ("cash", "card_terminal", "bank_transfer")
SIGNATURE_TOLERANCE_SECONDS = 300


class PaymentDeclined(AppError):
    status = 402
    title = "Payment declined"
    type_suffix = "payment-declined"


class ProviderUnavailable(AppError):
    status = 502
    title = "Payment provider unavailable"
    type_suffix = "provider-unavailable"


class BadSignature(AppError):
    status = 400
    title = "Bad webhook signature"
    type_suffix = "bad-signature"


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    provider_ref: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class RefundResult:
    provider_ref: str | None


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook: which payment moved to which state."""

    id: str
    type: str
    payment_ref: str | None
    status: ChargeStatus | None
    gym_id: str | None
    payload: dict[str, Any]


class PaymentProvider(Protocol):
    name: str

    async def charge(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        token: str | None,
        off_session: bool,
        metadata: dict[str, str],
    ) -> ChargeResult: ...

    async def refund(
        self, *, provider_ref: str | None, amount: int, idempotency_key: str
    ) -> RefundResult: ...

    def verify_webhook(self, payload: bytes, headers: dict[str, str]) -> ProviderEvent: ...


class ManualProvider:
    """Payments recorded by staff; nothing leaves the building."""

    name = "manual"

    async def charge(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        token: str | None,
        off_session: bool,
        metadata: dict[str, str],
    ) -> ChargeResult:
        if off_session:
            return ChargeResult(status="pending", failure_reason="awaiting payment at the desk")
        return ChargeResult(status="succeeded")

    async def refund(
        self, *, provider_ref: str | None, amount: int, idempotency_key: str
    ) -> RefundResult:
        return RefundResult(provider_ref=None)  # handed back at the desk

    def verify_webhook(self, payload: bytes, headers: dict[str, str]) -> ProviderEvent:
        raise BadSignature("The manual provider sends no webhooks")


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header value for ``payload`` (used by tests and fakes)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


_PI_STATUS: dict[str, ChargeStatus] = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
}


@dataclass
class CardProvider:
    """A Stripe-shaped card processor reached over HTTPS."""

    api_url: str
    api_key: str
    webhook_secret: str
    timeout: float = 10.0
    name: str = "card"
    _client: httpx.AsyncClient | None = field(default=None, repr=False)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.api_url.rstrip("/"),
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _post(self, path: str, data: dict[str, str], idempotency_key: str) -> httpx.Response:
        try:
            return await self._http().post(
                path, data=data, headers={"Idempotency-Key": idempotency_key}
            )
        except httpx.HTTPError as exc:
            # Whether the processor acted is unknown: the caller's transaction rolls back
            # and a retry with the same key returns the processor's stored outcome.
            raise ProviderUnavailable(f"The card processor did not answer: {exc!r}") from None

    async def charge(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        token: str | None,
        off_session: bool,
        metadata: dict[str, str],
    ) -> ChargeResult:
        if not token:
            return ChargeResult(status="failed", failure_reason="no card on file")
        data = {
            "amount": str(amount),
            "currency": currency.lower(),
            "payment_method": token,
            "confirm": "true",
            "off_session": "true" if off_session else "false",
        }
        data.update({f"metadata[{k}]": v for k, v in metadata.items()})
        response = await self._post("/v1/payment_intents", data, idempotency_key)
        body = _json(response)
        if response.status_code == 200 and body.get("status") == "succeeded":
            return ChargeResult(status="succeeded", provider_ref=str(body["id"]))
        if response.status_code in (200, 402):
            error = body.get("error") or {}
            intent = error.get("payment_intent") or body
            reason = error.get("decline_code") or error.get("code") or body.get("status")
            return ChargeResult(
                status="failed",
                provider_ref=str(intent["id"]) if intent.get("id") else None,
                failure_reason=str(reason or "declined"),
            )
        raise ProviderUnavailable(f"The card processor answered {response.status_code}")

    async def refund(
        self, *, provider_ref: str | None, amount: int, idempotency_key: str
    ) -> RefundResult:
        if not provider_ref:
            raise ProviderUnavailable("This card payment has no processor reference")
        response = await self._post(
            "/v1/refunds",
            {"payment_intent": provider_ref, "amount": str(amount)},
            idempotency_key,
        )
        body = _json(response)
        if response.status_code != 200 or body.get("status") not in ("succeeded", "pending"):
            raise ProviderUnavailable(f"The card processor refused the refund: {body}")
        return RefundResult(provider_ref=str(body["id"]))

    def verify_webhook(self, payload: bytes, headers: dict[str, str]) -> ProviderEvent:
        header = headers.get("stripe-signature", "")
        parts: dict[str, list[str]] = {}
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            parts.setdefault(key, []).append(value)
        try:
            timestamp = int(parts["t"][0])
        except (KeyError, ValueError):
            raise BadSignature("Missing or malformed Stripe-Signature header") from None
        if abs(time.time() - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
            raise BadSignature("The webhook's timestamp is outside the tolerance")
        expected = hmac.new(
            self.webhook_secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        if not any(hmac.compare_digest(expected, sig) for sig in parts.get("v1", [])):
            raise BadSignature("The webhook's signature does not match")
        try:
            event = json.loads(payload)
            obj = event["data"]["object"]
            event_id, event_type = str(event["id"]), str(event["type"])
        except (ValueError, KeyError, TypeError):
            raise BadSignature("The webhook's body is not a processor event") from None
        metadata = obj.get("metadata") or {}
        return ProviderEvent(
            id=event_id,
            type=event_type,
            payment_ref=str(obj["id"]) if obj.get("object") == "payment_intent" else None,
            status=_PI_STATUS.get(event_type),
            gym_id=metadata.get("gym_id"),
            payload=event,
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class BillingRuntime:
    """What billing's use cases need besides the session: the payment providers."""

    providers: dict[str, PaymentProvider]

    def provider(self, name: str) -> PaymentProvider:
        found = self.providers.get(name)
        if found is None:
            raise Invalid(f"Payments by {name!r} are not configured on this installation")
        return found

    async def close(self) -> None:
        for provider in self.providers.values():
            if isinstance(provider, CardProvider):
                await provider.close()


def build_runtime(
    *, card_api_url: str | None, card_api_key: str | None, card_webhook_secret: str | None
) -> BillingRuntime:
    providers: dict[str, PaymentProvider] = {"manual": ManualProvider()}
    if card_api_url and card_api_key and card_webhook_secret:
        providers["card"] = CardProvider(
            api_url=card_api_url, api_key=card_api_key, webhook_secret=card_webhook_secret
        )
    return BillingRuntime(providers=providers)
