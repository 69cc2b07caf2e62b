"""Per-tenant settings of the webhooks module (pydantic v2; errors name the setting)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WebhooksSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(8, ge=1, le=30, description="Attempts before a delivery is dead (then replayable)")
    backoff_base_seconds: float = Field(
        10.0, gt=0, le=3600, description="Retry n waits a random time in [0, base * 2^(n-1)] (full jitter)")
    backoff_max_seconds: float = Field(3600.0, gt=0, le=86400, description="Upper bound of one retry's wait")
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Per request: connect, send and answer")
    rotation_overlap_hours: float = Field(
        24.0, ge=0, le=24 * 30, description="After a secret rotation the old secret also signs for this long")
    retention_days: int = Field(30, ge=1, le=3650, description="Delivered and dead deliveries (and their events) are pruned after this")

    @model_validator(mode="after")
    def _bounds(self):
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_max_seconds must be at least backoff_base_seconds")
        return self
