"""The one error the local control plane raises; every module of the package uses it."""

from __future__ import annotations

__all__ = ["ControlPlaneError"]


class ControlPlaneError(RuntimeError):
    """The control plane could not be brought to the requested state."""
