"""The game and the GDA settings (theory sections 1 and 2): validation and the MMD."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")


@pytest.mark.parametrize("kernel", [kg.Gaussian(sigma=0.5), kg.Laplacian(sigma=0.8)], ids=["gauss", "lap"])
def test_mmd2_matches_double_loop(kernel, rng):
    x, p = rng.normal(size=(4, 2)), rng.uniform(0.5, 1.5, 4)
    y, q = rng.normal(size=(3, 2)), rng.uniform(0.5, 1.5, 3)
    gan = kg.KernelGAN(x, p, kernel, lam=0.3)
    # |K(., X) p - K(., Y) q|_H^2 expanded by the reproducing property, term by term.
    want = 0.0
    for a, wa in [(x, p), (y, -q)]:
        for b, wb in [(x, p), (y, -q)]:
            for i in range(a.shape[0]):
                for j in range(b.shape[0]):
                    want += wa[i] * wb[j] * oracles.kernel_value(kernel, a[i], b[j])
    np.testing.assert_allclose(gan.mmd2(y, q), want, rtol=1e-12, atol=1e-14,
                               err_msg="MMD^2 vs double loop over the reproducing property")
    assert gan.mmd2(x, p) == pytest.approx(0.0, abs=1e-13), "MMD of P with itself"


def test_game_fields_and_copies():
    gan = kg.KernelGAN([0.0, 1.0], 2.0, kg.Gaussian(sigma=1.0), lam=1)
    assert (gan.m, gan.d) == (2, 1) and gan.lam == 1.0 and isinstance(gan.lam, float)
    np.testing.assert_array_equal(gan.p_true, [2.0, 2.0])  # a scalar weight is broadcast
    with pytest.raises(ValueError):
        gan.x_true[0, 0] = 5.0  # read-only: the game is immutable
    assert gan.with_lam(0.2).lam == 0.2
    np.testing.assert_array_equal(gan.with_lam(0.2).x_true, gan.x_true)
    assert gan.with_kernel(kg.Laplacian(sigma=2.0)).kernel.sigma == 2.0


def test_gda_fields():
    gda = kg.GDA(eta_d=0.1, eta_g=0.4)
    assert gda.mode == "alternating" and gda.mu == pytest.approx(4.0)
    assert kg.GDA(1, 2, "simultaneous").eta_d == 1.0


@pytest.mark.parametrize("kwargs, name", [
    ({"x_true": [[np.nan, 0.0]]}, "x_true"),
    ({"x_true": [[np.inf, 0.0]]}, "x_true"),
    ({"x_true": np.zeros((0, 2))}, "x_true"),
    ({"x_true": np.zeros((2, 2, 2))}, "x_true"),
    ({"x_true": "abc"}, "x_true"),
    ({"p_true": [1.0, 1.0, 1.0]}, "p_true"),
    ({"p_true": [1.0, 0.0]}, "p_true"),
    ({"p_true": [1.0, -1.0]}, "p_true"),
    ({"p_true": [1.0, np.nan]}, "p_true"),
    ({"lam": -0.1}, "lam"),
    ({"lam": np.nan}, "lam"),
    ({"lam": np.inf}, "lam"),
    ({"lam": "big"}, "lam"),
    ({"kernel": "gaussian"}, "kernel"),
])
def test_bad_game(kwargs, name):
    args = {"x_true": [[0.0, 0.0], [1.0, 0.0]], "p_true": [1.0, 1.0], "kernel": kg.Gaussian(sigma=1.0),
            "lam": 0.5} | kwargs
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kg.KernelGAN(**args)


def test_bad_generated_points():
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=1.0), 0.5)
    with pytest.raises(ValueError, match=r"\by must have dimension d = 2"):
        gan.mmd2([[0.0, 0.0, 0.0]], 1.0)
    with pytest.raises(ValueError, match=r"\bq must have shape \(1,\)"):
        gan.mmd2([[0.0, 0.0]], [1.0, 2.0])


@pytest.mark.parametrize("kwargs, name", [
    ({"eta_d": 0.0}, "eta_d"), ({"eta_d": -0.1}, "eta_d"), ({"eta_d": np.nan}, "eta_d"),
    ({"eta_g": -1.0}, "eta_g"), ({"eta_g": np.inf}, "eta_g"), ({"eta_g": None}, "eta_g"),
    ({"mode": "sideways"}, "mode"), ({"mode": None}, "mode"),
])
def test_bad_gda(kwargs, name):
    args = {"eta_d": 0.1, "eta_g": 0.1} | kwargs
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kg.GDA(**args)
