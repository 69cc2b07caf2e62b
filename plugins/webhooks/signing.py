"""Standard Webhooks signatures (https://www.standardwebhooks.com).

Every request carries three headers:

- ``webhook-id``: the event's id, the same on every retry (receivers deduplicate on it);
- ``webhook-timestamp``: Unix seconds when this attempt was signed (receivers
  refuse old ones, which stops replays of a captured request);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``,
  one per active secret, separated by spaces (two during a secret rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from plugins.webhooks.crypto import secret_bytes

TOLERANCE_SECONDS = 300


def signature(key: bytes, event_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(keys: list[bytes], event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, event_id, timestamp, body) for key in keys),
    }


class InvalidSignature(ValueError):
    pass


def verify(secret: str, headers_in, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS) -> str:
    """What a receiver does (the reference for docs/webhooks.md's snippets):
    the event id when one signature matches a fresh timestamp, else InvalidSignature."""
    event_id = headers_in.get("webhook-id")
    stamp = headers_in.get("webhook-timestamp")
    sent = headers_in.get("webhook-signature")
    if not (event_id and stamp and sent):
        raise InvalidSignature("missing webhook headers")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise InvalidSignature("bad timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("timestamp too old or too new")
    expected = signature(secret_bytes(secret), event_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in sent.split(" ")):
        raise InvalidSignature("no matching signature")
    return event_id
