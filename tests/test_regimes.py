"""Regime labels (theory section 6)."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.regimes import (
    COARSE,
    DEFAULT_TOL,
    REGIMES,
    boundary_distance,
    classify_codes,
    dominant_eigenvalue,
)

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


def test_boundary_distance():
    tol = 1e-3
    z = np.array([0.5, 0.9985, 1.0, -0.3 + 0.0012j, 0.0003, 0.5 + 0.4j, 0.7 + 1e-8j, 0.7])
    runner = np.array([np.nan] * 7 + [0.6995])
    # 0.5 (structurally real) is 0.499 from |z| = 1 - tol; 0.9985 is 5e-4 from it; 1 is tol
    # from it; -0.3 + 0.0012j is 2e-4 from Im = tol; 0.0003 is 3e-4 from Re z = 0; a split double
    # root (Im 1e-8) is tol - 1e-8 from Im = tol; 0.7 is 5e-4 above the next mode's modulus.
    expected = [0.499, 0.0005, tol, 0.0002, 0.0003, min(abs(abs(0.5 + 0.4j) - 0.999), 0.4 - tol),
                tol - 1e-8, 0.0005]
    np.testing.assert_allclose(boundary_distance(z, tol, runner_up=runner), expected, rtol=1e-9,
                               atol=1e-15, err_msg="distance to |z| = 1 +- tol, |Im z| = tol, Re z = 0 "
                               "and the runner-up modulus (hand computed)")


def test_dominant_eigenvalue_tie_rule():
    # ties in modulus go to the largest imaginary part, then the largest real part
    assert dominant_eigenvalue([0.9, -0.9]) == 0.9
    assert dominant_eigenvalue([-0.9, 0.3 + 0.2j, 0.9 * np.exp(-0.5j), 0.9 * np.exp(0.5j)]) == \
        0.9 * np.exp(0.5j)
    assert np.isnan(dominant_eigenvalue([0.9, 0.5], visible=[False, False]))
    got = dominant_eigenvalue(np.array([[0.5, -0.5, np.nan], [0.1, 0.2j, -0.2j]]))
    np.testing.assert_array_equal(got, [0.5, 0.2j])
