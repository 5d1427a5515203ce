"""Kept for imports of ``obskit.analysis.pause``; the helper lives in :mod:`obskit.gcpause`."""

from obskit.gcpause import gc_paused

__all__ = ["gc_paused"]
