"""Exceptions raised by hfpc; each message names the input and the reason."""

from __future__ import annotations


class HfpcError(Exception):
    """Base class of every error hfpc raises on purpose."""


class ImageLoadError(HfpcError):
    """An image could not be read: missing, empty, truncated, not an image, or too large."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ManifestError(HfpcError):
    """A manifest could not be parsed into samples."""


class ProfileError(HfpcError):
    """A profile names an unknown check or carries invalid settings."""


class ModelNotAvailableError(HfpcError):
    """Weights a profile names are not on this machine and cannot be fetched."""
