"""Real data shared by the experiments: the digits of scikit-learn's bundled ``load_digits``."""

from __future__ import annotations

import numpy as np

__all__ = ["load_targets"]


def load_targets() -> tuple[np.ndarray, np.ndarray]:
    """The first image of each digit class, scaled to ``[0, 1]``: ``(X (10, 64), labels (10,))``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency of kernelgda
        raise ValueError("the digits experiment needs scikit-learn (pip install scikit-learn)") from exc
    digits = load_digits()
    index = [int(np.flatnonzero(digits.target == k)[0]) for k in range(10)]
    return digits.data[index] / 16.0, digits.target[index]
