"""The channels notifications go out on, each behind a small port.

- email: :class:`SmtpEmail` (aiosmtplib, ``FITSYNC_SMTP_URL``), multipart text + HTML,
  with a ``Message-ID`` derived from the delivery (a retry keeps it) and an
  ``X-FitSync-Event-Id`` header naming the event.
- push: :class:`WebPush`, standard Web Push (RFC 8030) with an aes128gcm-encrypted
  payload (RFC 8291) and VAPID (RFC 8292) signed with the server's P-256 key.
- sms: :class:`TwilioSms`, a Twilio-compatible HTTP API (``FITSYNC_SMS_URL``).
- without an SMTP server or an SMS provider, :class:`DevOutbox` keeps what would have
  been sent in ``notifications.dev_outbox``: never silently dropped.

A send either returns, raises :class:`TransientError` (retried with backoff) or
:class:`PermanentError` (given up at once).
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import http_ece
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fitsync.kernel import clock
from fitsync.kernel.db import transaction
from fitsync.notifications.models import DevOutboxItem
from fitsync.notifications.templates import Rendered

log = logging.getLogger("fitsync.notifications")


class SendError(Exception):
    pass


class TransientError(SendError):
    """Worth trying again later (server down, timeout, rate limited)."""


class PermanentError(SendError):
    """Trying again cannot help (address refused, bad request)."""


@dataclass(frozen=True)
class Outgoing:
    """One rendered notification for one recipient."""

    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    gym_id: uuid.UUID
    recipient_id: uuid.UUID
    rendered: Rendered
    context: dict[str, Any]

    @property
    def user(self) -> dict[str, Any]:
        return dict(self.context.get("user") or {})

    @property
    def gym_name(self) -> str:
        return str((self.context.get("gym") or {}).get("name") or "FitSync")

    @property
    def action_url(self) -> str:
        return str((self.context.get("links") or {}).get("action") or "")


# -- email --------------------------------------------------------------------------


class EmailSender(Protocol):
    async def send_email(self, message: Outgoing) -> str: ...


def build_email(message: Outgoing, *, sender: str) -> EmailMessage:
    name, address = parseaddr(sender)
    domain = address.rpartition("@")[2] or "fitsync.invalid"
    user = message.user
    if not str(user["email"]).isascii():  # formataddr cannot; it needs SMTPUTF8 end to end
        raise PermanentError(f"cannot send to the non-ASCII address {user['email']!r} yet")
    email = EmailMessage()
    email["Subject"] = message.rendered.title
    email["From"] = formataddr((message.gym_name or name, address))
    email["To"] = formataddr(
        (f"{user.get('first_name', '')} {user.get('last_name', '')}".strip(), str(user["email"]))
    )
    email["Date"] = format_datetime(clock.now())
    email["Message-ID"] = f"<{message.delivery_id}@{domain}>"
    email["X-FitSync-Event-Id"] = str(message.event_id)
    email["X-FitSync-Event-Type"] = message.event_type
    preferences = (message.context.get("links") or {}).get("preferences")
    if preferences:
        email["List-Unsubscribe"] = f"<{preferences}>"
    email.set_content(message.rendered.text)
    email.add_alternative(message.rendered.html, subtype="html")
    return email


@dataclass(frozen=True)
class SmtpConfig:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # smtps: TLS from the first byte
    start_tls: bool | None  # None: upgrade when the server offers STARTTLS
    validate_certs: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """``smtp://user:pw@host:587?starttls=true``, ``smtps://host:465?verify=false``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("FITSYNC_SMTP_URL must look like smtp://host:port or smtps://…")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        starttls = query.get("starttls")
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            start_tls=None if starttls is None else starttls in ("1", "true", "yes"),
            validate_certs=query.get("verify", "true") not in ("0", "false", "no"),
        )


class SmtpEmail:
    def __init__(self, url: str, *, sender: str, timeout: float = 10.0) -> None:
        self.config = SmtpConfig.from_url(url)
        self.sender = sender
        self.timeout = timeout

    async def send_email(self, message: Outgoing) -> str:
        email = build_email(message, sender=self.sender)
        cfg = self.config
        try:
            await aiosmtplib.send(
                email,
                hostname=cfg.hostname,
                port=cfg.port,
                username=cfg.username,
                password=cfg.password,
                use_tls=cfg.use_tls,
                start_tls=cfg.start_tls,
                validate_certs=cfg.validate_certs,
                tls_context=None if cfg.validate_certs else _insecure_context(),
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentError(f"SMTP {exc.code}: {exc.message}") from exc
            raise TransientError(f"SMTP {exc.code}: {exc.message}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientError(f"SMTP server unreachable: {exc}") from exc
        return str(email["Message-ID"])


def _insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# -- the dev outbox -----------------------------------------------------------------


class DevOutbox:
    """Keeps what an unconfigured channel would have sent, in ``notifications.dev_outbox``."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, sender: str) -> None:
        self.sessionmaker = sessionmaker
        self.sender = sender

    async def _keep(
        self, message: Outgoing, channel: str, recipient: str, doc: dict[str, Any]
    ) -> str:
        async with transaction(self.sessionmaker, gym_id=message.gym_id) as session:
            await session.execute(
                insert(DevOutboxItem)
                .values(
                    gym_id=message.gym_id,
                    delivery_id=message.delivery_id,
                    channel=channel,
                    recipient=recipient,
                    doc=doc,
                )
                .on_conflict_do_nothing(index_elements=["delivery_id"])
            )
        log.info("%s to %s kept in the dev outbox (no provider configured)", channel, recipient)
        return f"dev-outbox:{message.delivery_id}"

    async def send_email(self, message: Outgoing) -> str:
        email = build_email(message, sender=self.sender)
        doc = {
            "headers": {k: str(v) for k, v in email.items()},
            "text": message.rendered.text,
            "html": message.rendered.html,
        }
        return await self._keep(message, "email", str(message.user["email"]), doc)

    async def send_sms(self, message: Outgoing, *, to: str) -> str:
        return await self._keep(message, "sms", to, {"body": sms_body(message)})


# -- SMS ----------------------------------------------------------------------------


class SmsSender(Protocol):
    async def send_sms(self, message: Outgoing, *, to: str) -> str: ...


def sms_body(message: Outgoing) -> str:
    body = f"{message.gym_name}: {message.rendered.short}"
    if message.action_url:
        body += f" {message.action_url}"
    return body[:480]


class TwilioSms:
    """The Twilio Messages API (and the providers that copy it).

    ``FITSYNC_SMS_URL=https://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com``, ``FITSYNC_SMS_FROM``.
    """

    def __init__(self, url: str, *, sender: str, client: httpx.AsyncClient) -> None:
        parts = urlsplit(url)
        if not (parts.scheme in ("http", "https") and parts.username and parts.password):
            raise ValueError("FITSYNC_SMS_URL must look like https://ACCOUNT_SID:AUTH_TOKEN@host")
        self.account = unquote(parts.username)
        self.token = unquote(parts.password)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.base = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        self.sender = sender
        self.client = client

    async def send_sms(self, message: Outgoing, *, to: str) -> str:
        url = f"{self.base}/2010-04-01/Accounts/{self.account}/Messages.json"
        try:
            response = await self.client.post(
                url,
                data={"To": to, "From": self.sender, "Body": sms_body(message)},
                auth=(self.account, self.token),
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"SMS provider unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"SMS provider answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(
                f"SMS provider refused: {response.status_code} {response.text[:300]}"
            )
        return str(response.json().get("sid", ""))


# -- Web Push -----------------------------------------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def load_vapid_key(pem: str | None, data_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The configured VAPID key, or one generated once and kept (0600) in the data dir."""
    if not pem:
        path = data_dir / "vapid_private_key.pem"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            raw = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                with path.open("xb") as fh:
                    fh.write(raw)
                path.chmod(0o600)
            except FileExistsError:  # another process made it first
                pass
        pem = path.read_text()
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ValueError("the VAPID key must be a P-256 (prime256v1) private key")
    return loaded


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The application server key browsers pass to ``pushManager.subscribe``."""
    return b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str


class PushSender(Protocol):
    async def send_push(self, message: Outgoing, subscription: Subscription) -> None: ...


class SubscriptionGone(PermanentError):
    """The push service no longer knows the subscription (404/410): forget it."""


class WebPush:
    TTL_SECONDS = 24 * 3600

    def __init__(
        self, key: ec.EllipticCurvePrivateKey, *, subject: str, client: httpx.AsyncClient
    ) -> None:
        self.key = key
        self.subject = subject
        self.public_key = public_key_b64(key)
        self.client = client
        self._pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def vapid_header(self, endpoint: str) -> str:
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(clock.now().timestamp()) + 12 * 3600,
            "sub": self.subject,
        }
        token = jwt.encode(claims, self._pem, algorithm="ES256")
        return f"vapid t={token},k={self.public_key}"

    @staticmethod
    def payload(message: Outgoing) -> bytes:
        return json.dumps(
            {
                "type": message.event_type,
                "title": message.rendered.title,
                "body": message.rendered.short,
                "url": message.action_url,
                "event_id": str(message.event_id),
            }
        ).encode()

    async def send_push(self, message: Outgoing, subscription: Subscription) -> None:
        body = http_ece.encrypt(
            self.payload(message),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=b64url_decode(subscription.p256dh),
            auth_secret=b64url_decode(subscription.auth),
            version="aes128gcm",
        )
        urgency = "high" if message.context.get("urgent") else "normal"
        try:
            response = await self.client.post(
                subscription.endpoint,
                content=body,
                headers={
                    "Authorization": self.vapid_header(subscription.endpoint),
                    "Content-Encoding": "aes128gcm",
                    "Content-Type": "application/octet-stream",
                    "TTL": str(self.TTL_SECONDS),
                    "Urgency": urgency,
                    "Topic": message.delivery_id.hex[:32],
                },
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"push service unreachable: {exc}") from exc
        if response.status_code in (404, 410):
            raise SubscriptionGone(f"push subscription gone ({response.status_code})")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"push service answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"push service refused: {response.status_code}")


def valid_push_keys(p256dh: str, auth: str) -> str | None:
    """What is wrong with a subscription's keys, or None (RFC 8291: P-256 point, 16 bytes)."""
    try:
        point = b64url_decode(p256dh)
        secret = b64url_decode(auth)
    except (ValueError, TypeError):
        return "keys must be base64url"
    if len(secret) != 16:
        return "keys.auth must be 16 bytes"
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        return "keys.p256dh must be an uncompressed P-256 public key"
    if len(point) != 65:
        return "keys.p256dh must be an uncompressed P-256 public key"
    return None
