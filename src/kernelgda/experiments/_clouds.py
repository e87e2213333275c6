"""Clouds of generated points around one true point, shared by the spread experiments (theory section 9)."""

from __future__ import annotations

import numpy as np

__all__ = ["cloud", "trace_spread"]


def cloud(rng: np.random.Generator, n: int, d: int, scale: float) -> np.ndarray:
    """``n`` centred points in ``d`` dimensions with ``tr S_0 = d scale^2`` exactly."""
    z = rng.normal(size=(n, d))
    z -= z.mean(axis=0)
    return z * scale * np.sqrt(d * n / (z**2).sum())


def trace_spread(y: np.ndarray) -> np.ndarray:
    """Trace of the covariance of each configuration, ``y (..., n, d)`` -> ``(...)``."""
    dev = y - y.mean(axis=-2, keepdims=True)
    return (dev**2).sum(axis=(-2, -1)) / y.shape[-2]
