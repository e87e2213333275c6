"""The second-moment-model experiments (smm-spread, smm-validity, kernel-shape) against oracles.

Configurations are shrunk so that each test runs in about a second.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.experiments import EXPERIMENTS, to_dataset
from kernelgda.experiments import kernel_shape as ks
from kernelgda.experiments import smm_spread as ss
from kernelgda.experiments import smm_validity as sv
from tests import oracles


def test_registered():
    assert {"smm-spread", "smm-validity", "kernel-shape"} <= set(EXPERIMENTS)


@pytest.fixture(scope="module")
def spread_result():
    cfg = ss.Config(settings=(ss.Setting(0.5, 2.0, 0.25, 1.0),), dims=(1, 2), n=8, num_steps=300,
                    checkpoints=(100, 300))
    return ss.compute(cfg)


def test_smm_spread_starts_and_closed_forms(spread_result):
    r = spread_result
    cfg = r.config
    st = cfg.settings[0]
    for c, d in enumerate(cfg.dims):
        want0 = d * (st.s * st.sigma) ** 2                  # tr S_0 = d (s sigma)^2 by construction
        np.testing.assert_allclose(r["exact_spread"][0, :, c, 0], want0, rtol=1e-12)
        np.testing.assert_allclose(r["smm_spread"][0, :, c, 0], want0, rtol=1e-12)
        # Matched mass: rho_b = 1, the linear spread never moves (theory section 5).
        np.testing.assert_allclose(r["linear_spread"][0, 0, c], want0, rtol=1e-12)
        # Excess mass: -d delta sigma^2 / (Q (1 + d/2)) for the Gaussian (theory section 9).
        ratio = cfg.mass_ratios[1]
        np.testing.assert_allclose(r["stationary_spread"][0, c],
                                   -d * (1 - ratio) * st.sigma**2 / (ratio * (1 + d / 2)), rtol=1e-12)


def test_smm_spread_follows_the_exact_spread_at_matched_mass(spread_result):
    # Theory section 9: within 1-12 % at matched mass; exact simulation is the oracle.
    assert np.nanmax(spread_result["smm_error"][:, 0]) < 0.05
    assert np.nanmin(spread_result["linear_error"][:, 0, :, -1]) > 0.5


def test_smm_validity_linear_prediction_is_the_section5_pair_for_a_tiny_offset():
    cfg = sv.Config(offsets=(1e-3,), spreads=(0.0,), lams=(1.0,), num_steps=400, n=2)
    r = sv.compute(cfg)
    q = cfg.mass_ratio * cfg.p / cfg.n
    # The n coinciding points are one point of mass Q: iterate the 2 x 2 alternating J by hand.
    a, g, big_q, delta = cfg.eta_d * 1.0, 1.0 / cfg.sigma**2, cfg.n * q, cfg.p - cfg.n * q
    kappa = cfg.eta_g * q * g * delta / 1.0
    c = cfg.eta_d * cfg.eta_g * g * big_q * q
    J = np.array([[1 - a, -cfg.eta_d * g * big_q], [cfg.eta_g * q * (1 - a), 1 - kappa - c]])
    z, want = np.array([0.0, 1.0]), []
    for f in cfg.factors:
        z, k = np.array([0.0, 1.0]), 0
        while z[1] ** 2 > 1 / f:
            z, k = J @ z, k + 1
        want.append(k)
    np.testing.assert_array_equal(r["linear_steps"][0, 0, 0], want)
    # At |e0| = 1e-3 sigma the exact run is linear: within one step of it.
    np.testing.assert_allclose(r["exact_steps"][0, 0, 0], want, atol=1)


def test_kernel_shape_rates_and_convergence_steps():
    cfg = ks.Config(betas=(1.0,), num_bins=3, per_bin=1, num_steps=400, games=((1.0, 0.1, 0.02),))
    r = ks.compute(cfg)
    lam, eta_d, eta_g = cfg.games[0]
    for i, kernel in enumerate([kg.Gaussian(0.1), kg.Gaussian(1.0),
                                kg.Multiscale(sigmas=(0.1, 1.0), scale_weights=(0.1, 1.0))]):
        g, _ = oracles.smm_coefficients(kernel)
        ev = kg.isolated.eigenvalues(p=1.0, q=1.0, n=1, eta_d=eta_d, eta_g=eta_g, lam=lam,
                                     sigma=g**-0.5)
        np.testing.assert_allclose(r["local_rate"][0, i], ev.generator_rate, rtol=1e-12)
    # One start by a separate kg.simulate run: the first step after which it stays within tol.
    start = r["starts"][1]
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), lam=lam)
    traj = kg.simulate(gan, kg.GDA(eta_d, eta_g), [[start]], 1.0, cfg.num_steps)
    dist = np.abs(traj.y[:, 0, 0])
    inside = dist <= cfg.tol * 0.1
    want = -1 if not inside[-1] else int(np.nonzero(~inside)[0].max(initial=-1) + 1)
    assert r["start_steps"][0, 1, 1] == want


def test_new_results_convert_to_datasets(spread_result):
    ds = to_dataset(spread_result)
    assert ds.attrs["experiment"] == "smm-spread"
    assert "exact_spread" in ds


def test_spread_law_quick_follows_the_1_over_k_law():
    # Oracles: the closed form k_half = lam / (2 eta_g q g2 Q (1 + d/2) r_0) written out here
    # (Gaussian g2 = 1 / sigma^4, theory section 9), tr S_0 = d (s sigma)^2 by construction, and
    # the law's exponent -1: measured over [10 k_half, T] it must lie within 0.03 of -1.
    from kernelgda.experiments import spread_law as sl
    cfg = sl.QUICK
    r = sl.compute(cfg)
    q = cfg.p / cfg.n
    for i, d in enumerate(cfg.dims):
        r0 = (cfg.s * cfg.sigma) ** 2
        want = cfg.lam / (2 * cfg.eta_g * q * cfg.sigma**-4 * cfg.p * (1 + d / 2) * r0)
        np.testing.assert_allclose(r["k_half"][i], want, rtol=1e-12, err_msg="k_half closed form")
        np.testing.assert_allclose(r["exact_spread"][i, 0], d * r0, rtol=1e-12,
                                   err_msg="tr S_0 = d (s sigma)^2")
    np.testing.assert_allclose(r["exponent"], -1.0, rtol=0, atol=0.03,
                               err_msg="1/k law (theory section 9): exponent of tr S_k")
    assert r.summary["max_law_error_beyond_k_half"] < 0.2, "exact / law beyond 20 % (theory section 9)"
    assert r.summary["decades_beyond_k_half_min"] >= 2, "the quick run should span two decades"
