"""A local fake of a Stripe-shaped card processor, served over real HTTP by the tests.

It implements what FitSync's CardProvider uses: ``POST /v1/payment_intents``
(confirmed at once; Stripe's test tokens ``pm_card_visa`` succeed and
``pm_card_chargeDeclined`` is declined with 402), ``POST /v1/refunds``, Stripe's
idempotency keys (same key and parameters → the stored answer; other parameters →
400), and signed webhook events. ``drop_next`` makes it act on the next request but
hang up before answering — what a crash or a network cut looks like to FitSync.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from fitsync.billing.providers import sign_webhook

API_KEY = "sk_test_fitsync"
WEBHOOK_SECRET = "whsec_test_fitsync"


@dataclass
class FakeProcessor:
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, tuple[dict[str, str], int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    drop_next: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    url: str = ""

    def reset(self) -> None:
        with self.lock:
            self.intents.clear()
            self.refunds.clear()
            self.keys.clear()
            self.requests.clear()
            self.drop_next = False

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [pi for pi in self.intents.values() if pi["status"] == "succeeded"]

    def handle(self, path: str, params: dict[str, str], key: str | None) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((path, params))
            if key is not None and key in self.keys:
                stored_params, code, body = self.keys[key]
                if stored_params != params:
                    return 400, {"error": {"type": "idempotency_error"}}
                return code, body
            if path == "/v1/payment_intents":
                code, body = self._intent(params)
            elif path == "/v1/refunds":
                code, body = self._refund(params)
            else:
                return 404, {"error": {"type": "invalid_request_error"}}
            if key is not None:
                self.keys[key] = (params, code, body)
            return code, body

    def _intent(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        pi_id = f"pi_{next(self.ids):06d}"
        metadata = {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")}
        declined = params.get("payment_method") == "pm_card_chargeDeclined"
        intent = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "status": "requires_payment_method" if declined else "succeeded",
            "metadata": metadata,
        }
        self.intents[pi_id] = intent
        if declined:
            return 402, {
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "payment_intent": intent,
                }
            }
        return 200, intent

    def _refund(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(params.get("payment_intent", ""))
        amount = int(params.get("amount", "0"))
        if intent is None or intent["status"] != "succeeded":
            return 400, {"error": {"type": "invalid_request_error"}}
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        if amount <= 0 or refunded + amount > intent["amount"]:
            return 400, {"error": {"type": "invalid_request_error", "code": "amount_too_large"}}
        re_id = f"re_{next(self.ids):06d}"
        refund = {
            "id": re_id,
            "payment_intent": intent["id"],
            "amount": amount,
            "status": "succeeded",
        }
        self.refunds[re_id] = refund
        return 200, refund

    def event(
        self, event_type: str, intent: dict[str, Any], *, event_id: str | None = None
    ) -> bytes:
        body = {
            "id": event_id or f"evt_{next(self.ids):06d}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": intent},
        }
        return json.dumps(body).encode()

    @staticmethod
    def signature(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
        return sign_webhook(payload, secret, at)


def serve(fake: FakeProcessor) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._send(401, {"error": {"type": "authentication_error"}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            params = dict(parse_qsl(self.rfile.read(length).decode()))
            code, body = fake.handle(self.path, params, self.headers.get("Idempotency-Key"))
            if fake.drop_next:
                fake.drop_next = False
                self.close_connection = True
                return  # acted, but no answer reaches the caller
            self._send(code, body)

        def _send(self, code: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
