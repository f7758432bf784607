"""Standard Webhooks signatures for update webhooks (SPEC §4).

``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one value per
active secret, space-separated, so receivers keep verifying while a secret is being rotated.
"""
from __future__ import annotations

import base64
import secrets as random_source
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(SECRET_BYTES)).decode("ascii")


def sign_headers(msg_id: str, body: str | bytes, secrets: list[str], now: datetime | None = None) -> dict:
    """The three Standard Webhooks headers for one attempt of one message.

    ``now`` is the time of this attempt (naive means UTC); ``body`` is the exact text posted.
    """
    if not secrets:
        raise ValueError("sign_headers: at least one signing secret is needed")
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    now = now or datetime.now(UTC)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    timestamp = int(now.timestamp())
    # standardwebhooks reads the datetime's wall clock as UTC, so hand it a whole-second UTC time.
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    signatures = [Webhook(secret).sign(msg_id, signed_at, body) for secret in secrets]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(signatures)}
