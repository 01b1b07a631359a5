"""Profile: which checks run, with which backends and thresholds (TOML ⇄ pydantic).

Each check's section is validated by that check's own ``Settings`` model, so a typo in a key
or a check name is an error that says what was meant, not a silently ignored setting.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hfpc.checks.base import get_check_class
from hfpc.data.images import DEFAULT_MAX_PIXELS, MaskPolarity, max_pixels_default
from hfpc.errors import ProfileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CHECKS: dict[str, dict[str, Any]] = {"consistency": {}, "text": {}, "placement": {}, "distinct": {}}


class Profile(BaseModel):
    """A named set of enabled checks and their settings; the built-in default needs no weights."""

    model_config = ConfigDict(extra="forbid")

    name: str = "default"
    description: str = "built-in defaults: classic product consistency, no model weights"
    max_image_pixels: int | None = Field(
        None, gt=0,
        description="decompression-bomb guard: the largest width × height accepted. Precedence: this "
                    "value when the profile sets it, else the HFPC_MAX_IMAGE_PIXELS environment "
                    f"variable, else {DEFAULT_MAX_PIXELS:,}. Left unset, it is not written to a saved "
                    "profile, so the environment keeps applying.")
    mask_polarity: MaskPolarity = Field(
        "auto",
        description="which side of a grayscale mask file is the product: product_white (white = product, "
                    "hfpc's convention), product_black (inpainting masks: white = area to regenerate) or "
                    "auto (the side that holds most of the mask's border is background; if the border is "
                    "split evenly, the side covering more of the frame is). A mask with an alpha channel, "
                    "and an RGBA original's own alpha, always mean opaque = product. The polarity used is "
                    "recorded in each result row as mask_polarity.")
    checks: dict[str, dict[str, Any]] = Field(default_factory=lambda: {k: dict(v) for k, v in DEFAULT_CHECKS.items()})

    @model_validator(mode="after")
    def _validate_checks(self) -> Profile:
        for name, section in self.checks.items():
            cls = get_check_class(name)
            try:
                cls.Settings(**section)
            except ValidationError as e:
                raise ProfileError(f"profile {self.name!r}, [checks.{name}]: {_short(e)}") from None
        return self

    def settings(self, name: str) -> BaseModel:
        """Validated settings of one check (defaults filled in)."""
        return get_check_class(name).Settings(**self.checks.get(name, {}))

    def enabled(self) -> list[str]:
        """Names of the checks that run, in profile order."""
        return [n for n in self.checks if getattr(self.settings(n), "enabled", True)]

    def image_pixel_limit(self) -> int:
        """The pixel-count guard in force: the profile's own value, else the environment's or the default."""
        return self.max_image_pixels if self.max_image_pixels is not None else max_pixels_default()

    def resolved(self) -> dict[str, Any]:
        """The profile with every setting filled in (what ``hfpc profile show`` prints).

        ``max_image_pixels`` appears only when the profile sets it, so that a saved profile
        does not pin the limit that ``HFPC_MAX_IMAGE_PIXELS`` would otherwise give.
        """
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.max_image_pixels is not None:
            out["max_image_pixels"] = self.max_image_pixels
        out["mask_polarity"] = self.mask_polarity
        out["checks"] = {n: _drop_none(self.settings(n).model_dump()) for n in self.checks}
        return out

    def to_toml(self) -> str:
        """TOML text of the fully resolved profile."""
        return tomli_w.dumps(self.resolved())

    def save(self, path: str | Path) -> Path:
        """Write the resolved profile as TOML (atomically)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_text(self.to_toml())
        tmp.replace(p)
        return p

    @classmethod
    def from_toml(cls, path: str | Path) -> Profile:
        """Read a profile file; errors name the file and the offending key."""
        p = Path(path)
        if not p.is_file():
            raise ProfileError(f"{p}: profile file not found")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError as e:
            line = p.read_bytes()[: e.start].count(b"\n") + 1
            raise ProfileError(f"{p}:{line}: not UTF-8 text (byte 0x{e.object[e.start]:02x}); "
                               "save the profile as UTF-8") from None
        except tomllib.TOMLDecodeError as e:
            raise ProfileError(f"{p}: invalid TOML ({e})") from None
        data.setdefault("name", p.stem)
        try:
            return cls(**data)
        except ValidationError as e:
            raise ProfileError(f"{p}: {_short(e)}") from None
        except ProfileError as e:
            raise ProfileError(f"{p}: {e}") from None

    @classmethod
    def load(cls, spec: str | Path | Profile | None) -> Profile:
        """A profile from a Profile, a TOML path, ``"default"`` or ``None``."""
        if isinstance(spec, Profile):
            return spec
        if spec is None or str(spec) == "default":
            return cls()
        return cls.from_toml(spec)


def _short(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'value'}: {err['msg']}" for err in e.errors())


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
