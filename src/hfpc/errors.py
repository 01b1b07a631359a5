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


class ResultsError(HfpcError, ValueError):
    """A results file cannot be read, written or resumed (damaged, a directory, disk full…)."""


class ResultsLockedError(ResultsError):
    """Another run is writing the same results file."""


class ResultsMismatchError(ResultsError):
    """A results file was written with another profile or hfpc version than this run's."""


class NoDecidingChecksError(HfpcError):
    """A profile enables no check that decides pass/fail: every sample would pass."""
