"""The base of every check's Profile section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CheckSettings(BaseModel):
    """Settings every check has: an ``enabled`` switch; unknown keys are rejected (typos fail loudly)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="run this check (a disabled check is not part of the verdict)")
