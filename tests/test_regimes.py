"""Regime labels (theory section 6)."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.regimes import COARSE, DEFAULT_TOL, REGIMES, classify_codes

pytestmark = pytest.mark.usefixtures("strict_float")

TOL = DEFAULT_TOL


@pytest.mark.parametrize("z, label", [
    (0.5, "monotone"),
    (1 - 2 * TOL, "monotone"),
    (0.9 * np.exp(0.2j), "oscillatory"),
    (-0.7, "flipping"),
    (1.0, "neutral"),
    (1 - 0.5 * TOL, "neutral"),
    (-1.0, "neutral"),
    (1 + 0.5 * TOL, "neutral"),
    (np.exp(0.3j), "cycling"),
    (1 + 2 * TOL, "divergent"),
    (-1.2, "divergent"),
    (1.1 * np.exp(2.0j), "divergent"),
    (0.3 + 0.5 * TOL * 1j, "monotone"),  # |Im z| <= tol counts as real (split double roots)
    (np.nan, "undetermined"),
])
def test_labels_follow_the_table(z, label):
    assert kg.classify(z) == label


def test_arrays_and_codes():
    z = np.array([[0.5, -0.5], [1.0, 2.0]])
    labels = kg.classify(z)
    assert labels.shape == (2, 2) and list(labels.ravel()) == ["monotone", "flipping", "neutral", "divergent"]
    codes = classify_codes(z)
    assert codes.dtype == np.int8
    assert [REGIMES[c] for c in codes.ravel()] == list(labels.ravel())
    assert kg.classify(0.99, tol=0.05) == "neutral", "the tolerance widens the unit-circle band"


def test_coarse_view_covers_every_label():
    assert set(COARSE) == set(REGIMES)
    assert {COARSE[r] for r in ("monotone", "oscillatory", "flipping")} == {"converges"}
    assert COARSE["cycling"] == "oscillates" and COARSE["divergent"] == "diverges"
