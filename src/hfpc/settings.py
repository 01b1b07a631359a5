"""The base of every check's Profile section."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from hfpc.errors import HfpcError


class CheckSettings(BaseModel):
    """Settings every check has: an ``enabled`` switch; unknown keys are rejected (typos fail loudly)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="run this check (a disabled check is not part of the verdict)")


def int_from_env(name: str, default: int, minimum: int, unit: str) -> int:
    """A whole number from the environment variable ``name`` (``_`` allowed as a separator), or
    ``default`` when it is unset; a value below ``minimum`` or not a number is a clear error."""
    env = os.environ.get(name, "").strip()
    if not env:
        return default
    try:
        value = int(env.replace("_", ""))
    except ValueError:
        value = minimum - 1
    if value < minimum:
        what = f"a positive whole number of {unit}" if minimum == 1 else \
            f"a whole number of {unit} ({minimum} or more)"
        raise HfpcError(f"{name} must be {what}, not {env!r}")
    return value
