"""The perturb-run-fit-label protocol (kernelgda.check) against the closed forms of theory section 5."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.check import (
    E0_SCALE,
    MEASURED_TOL,
    check_rates,
    default_steps,
    measured_codes,
    perturbation,
)
from kernelgda.regimes import REGIMES
from kernelgda.status import Status


def _isolated(lam, sigma=1.0, q=1.0):
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=sigma), lam=lam)
    return gan, kg.find_equilibrium(gan, [[0.0]], q)


@pytest.mark.parametrize("mode", ["alternating", "simultaneous", "extragradient"])
def test_check_rate_measures_the_closed_form_rate(mode):
    gan, eq = _isolated(0.5)
    gda = kg.GDA(0.1, 0.1, mode=mode)
    res = kg.check_rate(gan, eq, gda, num_steps=300, seed=3)
    closed = kg.isolated.eigenvalues(eta_d=0.1, eta_g=0.1, lam=0.5, sigma=1.0, mode=mode)
    # A Hankel fit over ~2 decades of a linear run recovers the eigenvalue to ~1e-9
    # (kernelgda.measure); 1e-6 leaves room for the nonlinear residual at |e0| = 1e-6 sigma.
    np.testing.assert_allclose(res.measured_rate, closed.generator_rate, rtol=0, atol=1e-6,
                               err_msg="measured rate vs closed form (theory section 5)")
    np.testing.assert_allclose(res.predicted_rate, closed.generator_rate, rtol=0, atol=1e-12,
                               err_msg="linearized rate vs closed form (theory section 5)")
    assert res.measured_regime == str(closed.regime) and res.tol == MEASURED_TOL
    np.testing.assert_allclose(np.linalg.norm(res.e0), E0_SCALE * gan.kernel.sigma, rtol=1e-12)
    assert res.status is Status.COMPLETED and not res.escaped and res.num_steps == 300


def test_check_rate_default_run_length_and_fast_divergence():
    # c = eta_d eta_g / sigma^2 = 27.8 > 2 (2 - a): divergent through -1 (theory section 5), so fast
    # that the error leaves the linear regime within a few steps: no fit, labelled divergent
    gan, eq = _isolated(0.5, sigma=0.3)
    gda = kg.GDA(0.5, 5.0)
    closed = kg.isolated.eigenvalues(eta_d=0.5, eta_g=5.0, lam=0.5, sigma=0.3)
    assert str(closed.regime) == "divergent" and closed.generator_rate > 10
    res = kg.check_rate(gan, eq, gda)
    assert res.num_steps == default_steps(res.predicted_rate) == 200
    assert math.isnan(res.measured_rate) and res.escaped
    assert res.measured_regime == "divergent"


def test_check_rates_batch_measures_the_closed_form_rates():
    lams = [0.3, 0.5, 1.0]
    pairs = [_isolated(lam) for lam in lams]
    res = check_rates([g for g, _ in pairs], kg.GDA(0.1, 0.1), [e for _, e in pairs], 300)
    closed = kg.isolated.eigenvalues(eta_d=0.1, eta_g=0.1, lam=np.array(lams), sigma=1.0)
    np.testing.assert_allclose(np.abs(res.dominant), closed.generator_rate, rtol=0, atol=1e-6,
                               err_msg="batched measured rates vs closed form (theory section 5)")
    np.testing.assert_array_equal(res.regime, closed.regime_code)
    np.testing.assert_array_equal(res.status, [Status.COMPLETED.code] * 3)
    assert not res.escaped.any()


def test_perturbation_norm_and_seed():
    e0 = perturbation((3, 2), 2e-6, seed=7)
    np.testing.assert_allclose(np.linalg.norm(e0), 2e-6, rtol=1e-12)
    np.testing.assert_array_equal(e0, perturbation((3, 2), 2e-6, seed=7))
    rng = np.random.default_rng(1)
    first, second = perturbation((2, 1), 1.0, rng), perturbation((2, 1), 1.0, rng)
    assert not np.allclose(first, second), "a Generator is advanced"


def test_default_steps_hand_computed():
    # ceil(3 ln 10 / |ln rate|) + 50, clipped to [200, 4000]; 1000 within 1e-4 of one
    assert default_steps(0.99) == 738  # 3 ln 10 / 0.0100503 = 687.3
    assert default_steps(1.01) == 745  # 3 ln 10 / 0.0099503 = 694.2
    assert default_steps(0.9) == 200 and default_steps(0.99999) == 1000
    assert default_steps(0.9999) == 4000 and default_steps(0.0) == 200


def test_measured_codes_label_an_unfitted_escape_divergent():
    codes = measured_codes([np.nan, np.nan, 0.5, 0.9995], [True, False, True, False])
    assert [REGIMES[c] if c >= 0 else "undetermined" for c in codes] == \
        ["divergent", "undetermined", "monotone", "neutral"]


def test_bad_e0_names_the_argument():
    gan, eq = _isolated(0.5)
    with pytest.raises(ValueError, match="e0 must have the shape"):
        kg.check_rate(gan, eq, kg.GDA(0.1, 0.1), e0=np.zeros((2, 1)))
