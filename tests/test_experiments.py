"""Experiments of ``kernelgda reproduce``: each one's numbers against an independent oracle.

The oracles are the closed forms of theory sections 4 and 5 written out here by hand
(2 x 2 Jacobians of one generated point on one true point, the regime table of section
5), the definitions of the quantities, and the exact simulation where the experiment
compares against the theory. Configurations are shrunk so that each test runs in about
a second; the full registry in quick mode is exercised by ``test_cli_reproduce.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kernelgda import Gaussian, KernelGAN, find_equilibrium, isolated
from kernelgda.experiments import EXPERIMENTS, get, ring, to_dataset
from kernelgda.experiments import beyond_isolated as bi
from kernelgda.experiments import digits as dg
from kernelgda.experiments import linear_validity as lv
from kernelgda.experiments import local_minima as lm
from kernelgda.experiments import rate_check as rc
from kernelgda.experiments import regime_diagram as rd
from kernelgda.experiments import spectral_maps as sm
from kernelgda.experiments import two_point as tp
from kernelgda.regimes import REGIMES
from kernelgda.status import Status

from . import oracles

PAPER_EXPERIMENTS = ("rate-check", "spectral-maps", "regime-diagram", "two-point", "beyond-isolated",
                     "linear-validity", "digits")


def pair_jacobian(*, p, q, eta_d, eta_g, lam, sigma, mode="alternating"):
    """``J`` of theory section 4 for one generated point on one true point (d = 1), by hand.

    ``C = gamma`` (mixed derivative of the Gaussian at coincident points), ``H = -gamma
    (p - q) / lam`` (curvature of ``f* = (p - q) K(., 0) / lam``), ``Q = q``, ``Pb = 1``.
    """
    gamma = 1.0 / sigma**2
    a = eta_d * lam
    h = -gamma * (p - q) / lam if lam > 0 else 0.0
    if mode == "alternating":
        return np.array([[1 - a, -eta_d * gamma * q],
                         [eta_g * (1 - a) * q, 1 + eta_g * q * h - eta_d * eta_g * q * gamma * q]])
    return np.array([[1 - a, -eta_d * gamma * q], [eta_g * q, 1 + eta_g * q * h]])


# -- registry -------------------------------------------------------------------------------

def test_registry_holds_the_paper_experiments_with_the_module_protocol():
    assert set(PAPER_EXPERIMENTS) <= set(EXPERIMENTS), "registry misses a paper experiment"
    for name, exp in EXPERIMENTS.items():
        assert exp.name == name
        assert exp.description, f"{name}: empty description"
        mod = exp.module
        assert dataclasses.is_dataclass(mod.Config) and mod.Config.__dataclass_params__.frozen, \
            f"{name}: Config must be a frozen dataclass"
        assert isinstance(mod.QUICK, mod.Config), f"{name}: QUICK must be a Config"
        assert callable(mod.compute) and callable(mod.plot)


def test_unknown_experiment_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid names: rate-check, spectral-maps"):
        get("no-such-experiment")


# -- rate-check -------------------------------------------------------------------------------

RC_TINY = rc.Config(num_configs=8, max_steps=900, seed=5)


@pytest.fixture(scope="module")
def rate_check_result():
    return rc.compute(RC_TINY)


def test_rate_check_measured_rates_match_away_from_boundaries(rate_check_result):
    r = rate_check_result
    away = r["away"].astype(bool)
    assert away.sum() >= 5, "too few configurations away from boundaries to test"
    # The experiment's criterion is 1e-3; away from boundaries the runs stay linear and reach
    # ~1e-6, so 1e-5 is demanded here.
    np.testing.assert_allclose(r["measured_rate"][away], r["predicted_rate"][away], rtol=0, atol=1e-5,
                               err_msg="measured (exact simulation) vs generator-visible rate of J")
    assert np.all(r["measured_regime"][away] == r["predicted_regime"][away]), \
        "measured regime differs from the predicted one away from a boundary"


def test_rate_check_jacobian_rate_equals_closed_form_for_isolated_cases(rate_check_result):
    r = rate_check_result
    iso = np.isfinite(r["closed_form_rate"])
    assert iso.any()
    # Two independent routes to the same eigenvalue: J's eigensolve (theory section 4) and
    # the closed forms (section 5); 1e-9 is far above the eigensolve's rounding.
    np.testing.assert_allclose(r["predicted_rate"][iso], r["closed_form_rate"][iso], rtol=1e-9,
                               err_msg="general Jacobian vs isolated closed form (theory section 5)")


def test_rate_check_is_deterministic(rate_check_result):
    again = rc.compute(RC_TINY)
    np.testing.assert_array_equal(again["measured_rate"], rate_check_result["measured_rate"])
    np.testing.assert_array_equal(again["sigma"], rate_check_result["sigma"])


def test_rate_check_draws_both_signs_of_mismatch_and_both_orders():
    rng = np.random.default_rng(0)
    cases = [rc.draw_case(rng) for _ in range(60)]
    delta = np.array([c.gan.p_true.sum() - c.q.sum() for c in cases])
    assert (delta > 1e-12).any() and (delta < -1e-12).any(), "mass mismatch of both signs"
    assert {c.gda.mode for c in cases} == {"alternating", "simultaneous"}
    assert {c.family for c in cases} == set(rc.FAMILIES)


# -- spectral-maps ----------------------------------------------------------------------------

def test_spectral_maps_equal_eigenvalues_of_the_hand_assembled_jacobian(rng):
    cfg = dataclasses.replace(sm.QUICK, num_sigma=25, num_lam=25)
    r = sm.compute(cfg)
    rho = r["spectral_radius"]
    for _ in range(40):
        i, j = rng.integers(2), rng.integers(3)
        k, l = rng.integers(25), rng.integers(25)
        mode, eta_d = r["mode"][i], r["eta_d"][j]
        lam, sigma = r["lam"][k], r["sigma"][l]
        J = pair_jacobian(p=cfg.p, q=cfg.q, eta_d=eta_d, eta_g=cfg.mu * eta_d, lam=lam, sigma=sigma,
                          mode=str(mode))
        expected = max(np.abs(np.linalg.eigvals(J)).max(), abs(1 - eta_d * lam))
        # 1e-12: a 2 x 2 eigensolve against the quadratic formula, both at rounding level.
        np.testing.assert_allclose(rho[i, j, k, l], expected, rtol=1e-12,
                                   err_msg="spectral radius vs eig of J (theory section 4)")
        tr, det = np.trace(J), np.linalg.det(J)
        np.testing.assert_allclose(r["discriminant"][i, j, k, l], tr * tr - 4 * det, rtol=1e-9, atol=1e-12,
                                   err_msg="pair discriminant vs trace/determinant of J")


def test_spectral_maps_best_curves_reduce_to_section_5_closed_forms_at_zero_mismatch():
    cfg = sm.Config(num_sigma=240, num_lam=240, q=1.0, p=1.0, modes=("alternating",))
    r = sm.compute(cfg)
    sigma, lam = r["sigma"], r["lam"]
    step = np.log(lam[1] / lam[0])  # one grid step (both axes have the same log spacing here)
    windows = 0
    for j, eta_d in enumerate(r["eta_d"]):
        c = isolated.coupling(q=1.0, n=1, eta_d=eta_d, eta_g=eta_d, sigma=sigma)
        lam_star = isolated.best_lam(c, eta_d)
        inside = np.isfinite(lam_star) & (lam_star > lam[1]) & (lam_star < lam[-2])
        assert inside.sum() > 5
        got = r["best_lam"][0, j][inside]
        assert np.all(np.abs(np.log(got / lam_star[inside])) <= step * 1.01), \
            "best lam vs eta_d lam* = 1 - (1 - sqrt c)^2 (theory section 5), to one grid step"
        lo, hi = isolated.best_sigma_window(q=1.0, n=1, eta_d=eta_d, eta_g=eta_d, lam=lam)
        ok = (lo > sigma[1]) & (hi < sigma[-2])
        if ok.sum() < 5:  # eta_d <= 0.01: the lower edge q eta_d / 2 is below the grid
            continue
        windows += 1
        assert np.all(np.abs(np.log(r["best_sigma_lo"][0, j][ok] / lo[ok])) <= step * 1.01), \
            "window lower edge vs q sqrt(n eta_d eta_g) / (1 + sqrt(1 - a)) (theory section 5)"
        assert np.all(np.abs(np.log(r["best_sigma_hi"][0, j][ok] / hi[ok])) <= step * 1.01), \
            "window upper edge vs q sqrt(n eta_d eta_g) / (1 - sqrt(1 - a)) (theory section 5)"
    assert windows >= 1, "the window should lie inside the grid for eta_d = 0.1"


# -- regime-diagram ---------------------------------------------------------------------------

def test_regime_diagram_theory_panel_follows_the_section_5_table():
    r = rd.compute(rd.Config(num_theory=120, num_a=4, num_c=4, num_steps=200))
    a = r["a_theory"][:, None]
    c = r["c_theory"][None, :]
    s = np.sqrt(1 - a)
    lo, hi, div = (1 - s) ** 2, (1 + s) ** 2, 2 * (2 - a)
    expected = np.select([c < lo, c < hi, c < div], [0, 1, 2], default=5)  # monotone, osc., flip, div.
    expected = np.where(a == 0, np.where(c < 4, 4, 5), expected)  # lam = 0: cycling below c = 4
    # Cells within 1% of a boundary are left out: there the label flips on rounding.
    with np.errstate(divide="ignore"):  # lo = 0 at a = 0: log(c / 0) = inf, far from that boundary
        margin = np.min([np.abs(np.log(c / b)) for b in (lo, hi, div, np.full_like(a, 4.0))], axis=0) > 1e-2
    code = r["theory_regime"]
    assert np.array_equal(code[margin], expected[margin]), "closed-form regimes vs the table of section 5"


def test_regime_diagram_measured_regimes_and_rates_agree_away_from_boundaries():
    r = rd.compute(rd.Config(num_theory=50, num_a=7, num_c=7, num_steps=400))
    away = r["boundary"] > r.config.boundary_margin
    assert away.sum() >= 30
    assert np.array_equal(r["measured_regime"][away], r["predicted_regime"][away]), \
        "regime of the exact simulation vs closed form"
    err = r["rate_error"][away]
    assert np.all(err < 1e-5), f"measured rate off by {err.max():.2e} (exact simulation vs closed form)"
    # Every cell has its own raw (eta_d, sigma, q) but sits at the cell's (a, c).
    np.testing.assert_allclose(r["eta_d"] * r["lam"], np.broadcast_to(r["a"][:, None], r["lam"].shape),
                               rtol=1e-12, err_msg="a = eta_d lam")
    c = r["eta_d"] * r["eta_g"] * r["q"] ** 2 / r["sigma"] ** 2
    np.testing.assert_allclose(c, np.broadcast_to(r["c"][None, :], c.shape), rtol=1e-12,
                               err_msg="c = eta_d eta_g n q^2 / sigma^2")


# -- two-point --------------------------------------------------------------------------------

def test_two_point_linear_overlay_equals_iterating_the_hand_assembled_jacobian():
    cfg = tp.Config(num_steps=60)
    r = tp.compute(cfg)
    for i, (eta_d, eta_g) in enumerate(cfg.learning_rates):
        for j, lam in enumerate(cfg.lams):
            for k, sigma in enumerate(cfg.sigmas):
                J = pair_jacobian(p=1.0, q=1.0, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma)
                z = np.array([0.0, cfg.y0])  # (B0, e0) = (grad g0(y*), e0) with g0 = -f* = 0
                expected = [z[1] ** 2]
                for _ in range(cfg.num_steps):
                    z = J @ z
                    expected.append(z[1] ** 2)
                # 60 products of a 2 x 2 matrix: relative rounding ~1e-14.
                np.testing.assert_allclose(r["linear_sq"][i, j, k], expected, rtol=1e-10, atol=1e-300,
                                           err_msg="linear model vs J^k (0, e0), theory section 4")


def test_two_point_exact_run_follows_the_linear_model_when_the_start_is_close():
    r = tp.compute(tp.Config(num_steps=200))
    rows = [row for row in r.table if row["sigma"] == 10.0]
    # Start at 0.01 sigma: the first neglected terms are cubic (even kernel), D ~ 1e-4.
    assert all(row["max |exact - linear| / |e0|"] < 1e-3 for row in rows), \
        "exact dynamics vs linear model at |e0| = 0.01 sigma"
    assert r.table[0]["predicted regime"] in REGIMES


# -- beyond-isolated --------------------------------------------------------------------------

def test_beyond_isolated_rates_against_closed_form_and_simulation():
    cfg = bi.Config(cases=((2, 1.0), (2, 0.8)), num_separations=4, separation_range=(0.5, 8.0),
                    num_steps=1500)
    r = bi.compute(cfg)
    for c, (_, q) in enumerate(cfg.cases):
        J = pair_jacobian(p=1.0, q=q, eta_d=cfg.eta_d, eta_g=cfg.eta_g, lam=cfg.lam, sigma=cfg.sigma)
        expected = np.abs(np.linalg.eigvals(J)).max()
        np.testing.assert_allclose(r["isolated_rate"][c], expected, rtol=1e-12,
                                   err_msg="isolated rate vs eig of the hand-assembled 2 x 2 J")
        # 8 sigma apart the blocks couple through exp(-32): general Jacobian = closed form.
        np.testing.assert_allclose(abs(r["general"][c, -1]), expected, rtol=1e-9,
                                   err_msg="general Jacobian vs isolated closed form at s = 8 sigma")
    gap = r["boundary"] > 1e-3
    meas, gen = np.abs(r["measured"]), np.abs(r["general"])
    np.testing.assert_allclose(meas[gap], gen[gap], atol=1e-5, rtol=0,
                               err_msg="exact simulation vs general Jacobian rate")
    assert np.abs(gen[:, 0] - r["isolated_rate"][:, 0]).max() > 1e-2, \
        "at half a bandwidth the isolated closed form should be visibly off"


# -- linear-validity --------------------------------------------------------------------------

def test_linear_validity_deviation_orders_and_linear_curve():
    cfg = lv.Config(num_r=6, r_range=(1e-4, 1e-2), num_steps=150, example_r=(0.5,))
    r = lv.compute(cfg)
    assert np.all(r["deviation"][:, 0] < 1e-3), "exact vs linear at |e0| = 1e-4 sigma"
    slopes = r["slope"]
    # Symmetric isolated points: cubic remainder (slope 2); the coupled point: quadratic (slope 1).
    np.testing.assert_allclose(slopes[:3], 2.0, atol=0.05, err_msg="D ~ r^2 at symmetric fixed points")
    np.testing.assert_allclose(slopes[3], 1.0, atol=0.05, err_msg="D ~ r at the coupled fixed point")
    st = cfg.settings[cfg.example_setting]
    J = pair_jacobian(p=1.0, q=st.q, eta_d=cfg.eta_d, eta_g=st.c / cfg.eta_d, lam=st.a / cfg.eta_d,
                      sigma=cfg.sigma)
    z = np.array([0.0, 1.0])
    expected = [1.0]
    for _ in range(cfg.num_steps):
        z = J @ z
        expected.append(z[1])
    np.testing.assert_allclose(r["example_linear"][0], expected, rtol=1e-9, atol=1e-14,
                               err_msg="normalized linear curve vs J^k (0, 1)")


# -- digits -----------------------------------------------------------------------------------

def test_digits_targets_are_one_scaled_image_per_class():
    x, labels = dg.load_targets()
    assert x.shape == (10, 64)
    assert sorted(labels.tolist()) == list(range(10))
    assert x.min() >= 0 and x.max() <= 1


def test_digits_outcome_rules():
    cfg = dg.Config()
    assert dg.predicted_outcome(1.2, 100, 1e-2) == "diverges"
    assert dg.predicted_outcome(0.9, 100, 1e-2) == "converges"  # 0.9^100 = 2.7e-5
    assert dg.predicted_outcome(0.999, 100, 1e-2) == "stalls"  # 0.999^100 = 0.9
    assert dg.observed_outcome(1.0, 1e-3, False, cfg) == "converges"
    assert dg.observed_outcome(1.0, 0.5, False, cfg) == "stalls"
    assert dg.observed_outcome(1.0, 3.0, False, cfg) == "diverges"
    assert dg.observed_outcome(1.0, 0.5, True, cfg) == "diverges"


@pytest.mark.slow
def test_digits_perfect_fit_spectrum_equals_the_general_jacobian():
    import kernelgda as kg

    x, _ = dg.load_targets()
    gan = kg.KernelGAN(x, 1.0, kg.Gaussian(sigma=2.0), lam=0.1)
    gda = kg.GDA(1.0, 1.0)
    lin = kg.linearize(gan, kg.find_equilibrium(gan, x, 1.0), gda)
    z = dg.perfect_fit_dominant(gan, gda, q=1.0)
    # Eigenvalues of C mapped through the 2 x 2 pair vs the 1280 x 1280 eigensolve of J.
    np.testing.assert_allclose(z, lin.dominant, rtol=1e-10,
                               err_msg="C-spectrum reduction vs general Jacobian (theory section 4)")


@pytest.mark.slow
def test_digits_small_bandwidth_rate_is_the_isolated_closed_form():
    cfg = dg.Config(sigmas=(0.3, 2.0), num_steps=60, nngp_depths=(2,), nngp_biases=(0.5,), nngp_steps=20)
    r = dg.compute(cfg)
    # At sigma = 0.3 the closest digits are 6.5 sigma apart: couplings exp(-21) ~ 1e-9.
    expected = isolated.eigenvalues(p=1.0, q=1.0, n=1, eta_d=cfg.eta_d, eta_g=cfg.eta_g, lam=cfg.lam,
                                    sigma=0.3).generator_rate
    np.testing.assert_allclose(abs(r["predicted"][0]), expected, rtol=1e-6,
                               err_msg="linearization at Y* = X vs isolated closed form (section 5)")
    dist = r["distance"]
    np.testing.assert_allclose(dist[:, 0], np.linalg.norm(r["initial"] - r["targets"]), rtol=1e-12,
                               err_msg="distance at step 0 vs |Y0 - X|")
    for i in range(2):
        taken = r["steps_taken"][i]
        want = dg.observed_outcome(dist[i, 0], dist[i, taken], taken < cfg.num_steps, cfg)
        assert dg.OUTCOMES[r["observed_outcome"][i]] == want


def test_digits_nngp_scan_w2_curves_and_verdict():
    from scipy.optimize import linear_sum_assignment

    cfg = dg.Config(sigmas=(1.6,), num_steps=20, nngp_depths=(1, 2), nngp_biases=(0.5,),
                    nngp_steps=20, w2_every=5)
    r = dg.compute(cfg)
    np.testing.assert_array_equal(r["nngp_depth"], [1, 2])
    np.testing.assert_array_equal(r["nngp_w2_step"], [0, 5, 10, 15, 20])
    np.testing.assert_array_equal(r["w2_step"], [0, 5, 10, 15, 20])
    # W2^2 at step 0 and at the end: the optimal assignment of ten points to ten digits
    for y, w2 in [(r["initial"], r["nngp_w2"][0, 0]), (r["nngp_final"][1], r["nngp_w2"][1, -1]),
                  (r["initial"], r["w2"][0, 0])]:
        cost = ((y[:, None] - r["targets"][None]) ** 2).sum(-1)
        rows, cols = linear_sum_assignment(cost)
        np.testing.assert_allclose(w2, cost[rows, cols].mean(), rtol=1e-12,
                                   err_msg="W2^2 vs optimal assignment (scipy)")
    np.testing.assert_allclose(r["nngp_distance"][:, 0], np.linalg.norm(r["initial"] - r["targets"]),
                               rtol=1e-12)
    # the verdict is the one the predicted rate gives (|z| < 1 for the NNGP at the perfect fit)
    rate = np.abs(r["nngp_predicted"])
    assert np.all(rate < 1)
    for i in range(2):
        want = dg.predicted_outcome(rate[i], cfg.nngp_steps, cfg.converge_ratio)
        assert dg.OUTCOMES[r["nngp_predicted_outcome"][i]] == want
    assert [row["kernel"] for row in r.table][1:] == ["nngp depth 1, bias 0.5", "nngp depth 2, bias 0.5"]
    assert np.all(r["nngp_w2"][:, -1] < r["nngp_w2"][:, 0])  # the NNGP runs approach the digits


@pytest.mark.slow
def test_digits_nngp_perfect_fit_spectrum_equals_the_general_jacobian():
    import kernelgda as kg

    x, _ = dg.load_targets()
    gan = kg.KernelGAN(x, 1.0, kg.NNGP(depth=2, bias=0.5), lam=0.1)
    gda = kg.GDA(1.0, 1.0)
    lin = kg.linearize(gan, kg.find_equilibrium(gan, x, 1.0), gda)
    # not translation invariant, but H = 0 at the perfect fit: only C = mixed derivatives enters
    np.testing.assert_allclose(dg.perfect_fit_dominant(gan, gda, q=1.0), lin.dominant, rtol=1e-10,
                               err_msg="C-spectrum reduction vs general Jacobian (theory section 4)")


# -- data files ---------------------------------------------------------------------------------

def test_results_convert_to_netcdf3_and_round_trip(tmp_path):
    import xarray as xr

    r = tp.compute(tp.Config(num_steps=20))
    ds = to_dataset(r)
    path = tmp_path / "two-point.nc"
    ds.to_netcdf(path, engine="scipy")
    with xr.open_dataset(path, engine="scipy") as back:
        np.testing.assert_array_equal(back["linear_sq"].values, r["linear_sq"])
        np.testing.assert_array_equal(back["predicted_real"].values, r["predicted"].real)
        assert back.attrs["config_num_steps"] == 20
        assert back.attrs["experiment"] == "two-point"


# -- local-minima (theory section 10) ----------------------------------------------------------

LM_TINY = lm.Config(curve_sigmas=(0.4,), curve_steps=60, table_sigmas=(0.4, 1.0), table_steps=300,
                    map_sigmas=(0.4,), map_starts=(0.95, 2.9), map_steps=100, closure_steps=300,
                    uneq_sigmas=(0.3,), uneq_lams=(3.0,), uneq_steps=300)


@pytest.fixture(scope="module")
def local_minima_result():
    return lm.compute(LM_TINY)


def test_local_minima_w2_at_step_zero_is_the_hand_computed_transport_cost(local_minima_result):
    # Start (1.6, 1.7), true points (-1, 1), weights 1/2 each: the monotone plan sends 1.6 -> -1
    # and 1.7 -> 1, cost (2.6^2 + 0.7^2) / 2 = 3.625 (in 1-D the sorted matching is optimal).
    np.testing.assert_allclose(local_minima_result["w2"][:, :, 0], 3.625, rtol=1e-12,
                               err_msg="W2^2 at step 0 vs hand computation")


def test_local_minima_collapse_fixed_point_is_stationary_by_finite_differences(local_minima_result):
    cfg = LM_TINY
    y = local_minima_result["collapse_y"][0]  # sigma = 0.4
    kernel = Gaussian(sigma=0.4)
    x, p, q = np.array(cfg.x)[:, None], np.array(cfg.p), np.array(cfg.q)

    def fstar(u):
        u = np.atleast_1d(u)
        return (sum(pi * oracles.kernel_value(kernel, u, xi) for pi, xi in zip(p, x, strict=True))
                - sum(qj * oracles.kernel_value(kernel, u, [yj]) for qj, yj in zip(q, y, strict=True))
                ) / cfg.lam

    # h = 1e-5: truncation h^2 |f'''| / 6 ~ 1e-10 / sigma^3, rounding eps / h ~ 1e-11.
    grads = [oracles.fd_gradient(fstar, np.array([yj]), 1e-5)[0] for yj in y]
    np.testing.assert_allclose(grads, 0.0, atol=1e-8, err_msg="grad f*(Y*) by central differences")
    assert y[0] < 1.0 < y[1], "the collapse fixed point straddles +1 (theory section 10)"


def test_local_minima_collapse_radius_equals_fd_reduced_jacobian(local_minima_result):
    cfg = LM_TINY
    y = local_minima_result["collapse_y"][0][:, None]
    jac, _ = oracles.fd_reduced_jacobian(Gaussian(sigma=0.4), np.array(cfg.x)[:, None],
                                         np.array(cfg.p), cfg.lam, cfg.eta_d, cfg.eta_g, cfg.mode,
                                         y, np.array(cfg.q))
    expected = max(np.abs(np.linalg.eigvals(jac)).max(), 1 - cfg.eta_d * cfg.lam)
    # FD entries to ~1e-8 absolute (oracles.fd_reduced_jacobian); eigenvalues well separated.
    np.testing.assert_allclose(local_minima_result["collapse_radius"][0], expected, atol=1e-6,
                               err_msg="spectral radius vs finite-difference reduced Jacobian")
    assert local_minima_result["collapse_radius"][0] < 1, "sigma = 0.4: collapse is a local minimum"


def test_local_minima_smm_spread_is_the_section_9_closed_form(local_minima_result):
    # d = 1, p = 0.5, Q = 1: tr S = -delta sigma^2 / (Q * 3/2) = sigma^2 / 3.
    np.testing.assert_allclose(local_minima_result["smm_spread"], np.array([0.4, 1.0]) ** 2 / 3,
                               rtol=1e-14, err_msg="section 9 stationary spread")
    # Another excess mass (p = 0.5, Q = 0.8): -delta sigma^2 / (1.5 Q) = 0.3 * 0.04 / 1.2; and
    # nan with a deficit (Q = 0.4 < p), where the spread shrinks to 0 (theory section 9).
    cfg = dataclasses.replace(LM_TINY, q=(0.4, 0.4))
    np.testing.assert_allclose(lm.smm_spread(cfg, 0.2), [0.3 * 0.04 / 1.2], rtol=1e-14,
                               err_msg="section 9 closed form by hand")
    assert np.isnan(lm.smm_spread(dataclasses.replace(LM_TINY, q=(0.2, 0.2)), 0.2)[0])


def test_local_minima_closure_is_not_reported_where_it_has_not_settled(local_minima_result):
    r = local_minima_result
    assert list(r["closure_sigma"]) == [0.4, 1.0]
    # 300 steps: at both widths the cluster is still moving (it later drifts off +1).
    assert not r["closure_settled"].any() and not r["closure_holds"].any()
    assert np.isnan(r.table[0]["closure spread"]) and r.summary["closure_collapse_widths"] == "none"
    assert to_dataset(r)["closure_spread"].dims == ("closure_sigma",)


def _stationary_closure_residuals(cfg, sigma, mean, spread):
    """``E[f'(y)]`` and ``E[f''(y)]``, ``y ~ N(mean, spread)``, for the stationary discriminator
    ``f = (sum_i p_i K(., x_i) - Q E_{N(mean, spread)} K(., y)) / lam`` of the closure (theory
    section 11), by 80-point Gauss-Hermite quadrature of hand-differentiated Gaussian bumps."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    y = (mean + np.sqrt(spread) * nodes)[:, None]
    weights = weights / weights.sum()
    grad, hess = np.zeros(y.shape[0]), np.zeros(y.shape[0])
    bumps = [(pi, xi, sigma**2) for pi, xi in zip(cfg.p, cfg.x, strict=True)]
    tau2 = sigma**2 + spread  # a Gaussian kernel averaged over N(mean, spread)
    bumps.append((-sum(cfg.q) * np.sqrt(sigma**2 / tau2), mean, tau2))
    for c, m, var in bumps:
        _, g, h = oracles.gaussian_bump(c, np.array([m]), np.array([[1 / var]]), y)
        grad += g[:, 0] / cfg.lam
        hess += h[:, 0, 0] / cfg.lam
    return weights @ grad, weights @ hess


def test_local_minima_closure_collapse_is_a_stationary_state_of_the_closure():
    cfg = dataclasses.replace(lm.QUICK, closure_steps=2500)
    sig = np.array([0.1, 0.2, 0.7])
    mean, spread, settled, holds = lm.closure_collapse(cfg, sig)
    assert holds[:2].all() and settled[:2].all(), "narrow kernels: the cluster settles on +1"
    assert not holds[2] and abs(mean[2] - 1) > 0.5, "sigma = 0.7: it drifts off +1 towards -1"
    # Closed form (module docstring of kernelgda.experiments._collapse): with -1 >= 10 widths
    # away, ((sigma^2 + 2 S) / (sigma^2 + S))^(3/2) = Q / p = 2 gives S / sigma^2 = (r - 1) / (2 - r),
    # r = 2^(2/3). Settled to ~1e-8 (relative) after 1900 steps at sigma = 0.2.
    r = 2 ** (2 / 3)
    np.testing.assert_allclose(spread[:2], (r - 1) / (2 - r) * sig[:2] ** 2, rtol=1e-6,
                               err_msg="closure stationary spread vs closed form")
    np.testing.assert_allclose(mean[:2], 1.0, atol=1e-12)
    # Its own fixed-point equations, by quadrature: E[f'] = 0 (mean fixed) and E[f''] = 0
    # (M = 1, spread fixed); the scale of f'' is p / (lam sigma^2) = 12.5-50, residuals ~3e-11.
    for s, m, v in zip(sig[:2], mean[:2], spread[:2], strict=True):
        g, h = _stationary_closure_residuals(cfg, s, m, v)
        assert abs(g) < 1e-9 / s and abs(h) < 1e-8 / s**2, (s, g, h)  # 0.1 % off S: 1e-3
    # Against the SMM (theory section 9: sigma^2 / 3), 4.27 times larger at this excess mass.
    np.testing.assert_allclose(spread[:2] / lm.smm_spread(cfg, sig[:2]), 3 * (r - 1) / (2 - r),
                               rtol=1e-6)


def test_local_minima_classify_runs_on_hand_made_trajectories():
    x = np.array([-1.0, 1.0])
    T = 100
    still = lambda a, b: np.tile([[a], [b]], (T + 1, 1, 1))  # noqa: E731
    moving = np.stack([np.array([[1.0], [2.0 + 0.1 * k]]) for k in range(T + 1)])
    y = np.stack([still(-1.0, 1.0), still(0.8, 1.2), still(1.0, 3.0), moving, still(0.9, 1.1)])
    y[4, -5:] += 0.2  # still moving near the data at the end
    status = ["completed"] * 4 + ["completed"]
    out = lm.classify_runs(y, status, x, np.full(5, 0.25))
    assert [lm.OUTCOMES[o] for o in out] == ["global fit", "collapse", "stall", "escape", "unsettled"]
    div = lm.classify_runs(y[:1], ["diverged"], x, np.array([0.25]))
    assert lm.OUTCOMES[div[0]] == "diverged"


def test_local_minima_verdict_counts_and_wide_kernel_has_no_collapse(local_minima_result):
    r = local_minima_result
    assert r["collapse_radius"][1] != r["collapse_radius"][1], "sigma = 1: no collapse fixed point"
    assert r["newton_status"][1] == Status.CONVERGED.code
    assert r.summary["widths_verdict_agrees"].endswith("of 1")


def test_local_minima_stall_is_not_reported_as_a_fixed_point():
    gan = KernelGAN([[-1.0], [1.0]], [0.5, 0.5], Gaussian(sigma=0.1), lam=1.0)
    eq = find_equilibrium(gan, [[1.0], [3.0]], [0.5, 0.5])  # 20 widths out: gradient underflows
    assert lm.fixed_point_status(gan, eq) is not Status.CONVERGED, "a stall is not a fixed point"


# -- ring ----------------------------------------------------------------------------------------

RING_TINY = ring.Config(sigmas=(0.25,), num_trials=1, num_steps=40, every=20)


@pytest.fixture(scope="module")
def ring_result():
    return ring.compute(RING_TINY)


def test_ring_w2_at_step_zero_equals_an_assignment_oracle(ring_result):
    from scipy.optimize import linear_sum_assignment

    y0 = ring.starts(RING_TINY)[0]
    x = np.repeat(ring.ring_points(4), 2, axis=0)  # each true point (mass 1/4) as two halves
    cost = ((y0[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    expected = cost[rows, cols].mean()  # equal masses 1/8: an optimal plan is a permutation
    np.testing.assert_allclose(ring_result["w2"][:, 0, 0, 0], expected, rtol=1e-10,
                               err_msg="W2^2 at step 0 vs assignment (Birkhoff)")


def test_ring_rates_against_the_isolated_pair_closed_form(ring_result):
    # sigma = 0.25: neighbours sqrt(2) = 5.7 sigma apart, coupling exp(-16) ~ 1e-7, so each
    # pair is isolated (section 5, matched mass, h = 0): the discriminator sees the pair's mass
    # Q = 1/4 (B+ = (1 - a) B - eta_d gamma Q e_mean), each point moves with its own q = 1/8.
    a, gamma, eta_d, eta_g, q, Q = 0.1, 1 / 0.25**2, 0.1, 0.04, 1 / 8, 1 / 4
    J = np.array([[1 - a, -eta_d * gamma * Q],
                  [eta_g * (1 - a) * q, 1 - eta_d * eta_g * q * gamma * Q]])
    expected = np.abs(np.linalg.eigvals(J)).max()
    np.testing.assert_allclose(ring_result["mean_mode_rate"][0, 0], expected, atol=1e-5,
                               err_msg="pair-mean rate vs isolated closed form, theory section 5")
    np.testing.assert_allclose(ring_result["predicted_rate"][0, 0], 1.0, atol=1e-9,
                               err_msg="matched mass: the spread modes are neutral (section 5)")
    np.testing.assert_allclose(ring_result["fixed_point_distance"][0, 0], 0.0, atol=1e-10,
                               err_msg="matched mass: the fixed point is the perfect fit")


@pytest.mark.slow
def test_local_minima_reproduces_the_specification_table_of_section_10():
    # docs/theory.md section 10 (measured independently for the specification): after 20,000
    # steps from (1.6, 1.7), sigma = 0.4 ends at (0.728, 1.272), radius 0.9926, variance 0.074;
    # sigma = 0.5 at (0.648, 1.335), radius 0.9958, variance 0.118 (3 digits as printed there).
    cfg = lm.Config(curve_sigmas=(0.5,), curve_steps=10, table_sigmas=(0.4, 0.5), table_steps=20000,
                    map_sigmas=(0.5,), map_starts=(0.95,), map_steps=10)
    r = lm.compute(cfg)
    np.testing.assert_allclose(r["table_end"], [[0.728, 1.272], [0.648, 1.335]], atol=1.5e-3,
                               err_msg="end of run vs the section-10 table")
    np.testing.assert_allclose(r["collapse_radius"], [0.9926, 0.9958], atol=1e-4,
                               err_msg="spectral radius vs the section-10 table")
    np.testing.assert_allclose(r["collapse_variance"], [0.074, 0.118], atol=1e-3,
                               err_msg="variance vs the section-10 table")
    assert [lm.OUTCOMES[o] for o in r["table_outcome"]] == ["collapse", "collapse"]


# -- network-discriminator (theory section 13) ------------------------------------------------

@pytest.mark.slow
def test_network_discriminator_rates_against_the_hand_assembled_tangent_kernel_jacobian():
    """Matched mass, d = 1: the network's perfect fit has H = 0 and C = d_u d_v Theta_h(x, x)
    (theory section 13), here from central differences of the tangent kernel's values; the
    2 x 2 alternating Jacobian of section 4 then gives the rate the run must show."""
    from kernelgda import NetworkDiscriminator
    from kernelgda.experiments import network_discriminator as nd

    cfg = nd.QUICK
    res = get("network-discriminator").compute(cfg)
    i, j, x, h = 0, list(cfg.masses).index(1.0), 0.3, 1e-4
    a = cfg.eta_d * cfg.lam
    for w, width in enumerate(cfg.widths):
        K = NetworkDiscriminator(width, "erf", cfg.sigma_w, cfg.sigma_b, cfg.seeds[0]).tangent_kernel()

        def k(u, v, K=K):
            return K([[u]], [[v]])[0, 0]

        C = (k(x + h, x + h) - k(x + h, x - h) - k(x - h, x + h) + k(x - h, x - h)) / (4 * h * h)
        J = np.array([[1 - a, -cfg.eta_d * C], [cfg.eta_g * (1 - a), 1 - cfg.eta_d * cfg.eta_g * C]])
        rate = np.abs(np.linalg.eigvals(J)).max()
        np.testing.assert_allclose(res["empirical"][i, j, w, 0], rate, rtol=0, atol=1e-7,
                                   err_msg=f"Theta_h prediction vs the hand Jacobian (width {width})")
        np.testing.assert_allclose(res["measured"][i, j, w, 0], rate, rtol=0, atol=1e-6,
                                   err_msg=f"measured rate vs the hand Jacobian (width {width})")
    assert res.summary["matched_err_emp_max"] < 1e-6
    assert res.summary["mismatch_err_emp_max"] < 1e-4
    # with q = 0.8 the fixed point is off the true point, and the network's agrees with Theta_h's
    jm = list(cfg.masses).index(0.8)
    assert np.all(np.abs(res["y_net"][0, jm] - 0.3) > 1e-3), "a mass mismatch moves the fixed point"
    np.testing.assert_allclose(res["y_net"][0, jm], res["y_emp"][0, jm], rtol=0, atol=1e-4,
                               err_msg="network fixed point vs the Theta_h kernel GAN's")
