"""Batched exact dynamics: every cell of a batch equals a separate ``kg.simulate`` run."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.status import Status

pytestmark = pytest.mark.usefixtures("strict_float")

# Separate runs and the batch sum the same kernel expansion in a different order (the
# batch forms squared distances from differences y - z, simulate from a matrix product), so they agree
# to rounding: a few eps per step, relative to the size of the error |Y^k - Y*|.
RTOL = 1e-12
#: Every update rule of theory section 8, with several discriminator steps and momentum of both signs.
RULES = [("alternating", {}), ("alternating", {"d_steps": 3}), ("simultaneous", {}), ("extragradient", {}),
         ("optimistic", {}), ("momentum", {"beta": -0.3}), ("momentum", {"beta": 0.4})]


def _isolated_cells(sigmas, lams, modes, eta=0.3, eta_d=None):
    cells = []
    for sigma in sigmas:
        for lam in lams:
            for mode in modes:
                mode, kw = (mode, {}) if isinstance(mode, str) else mode
                gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=sigma), lam=lam)
                eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
                cells.append((gan, kg.GDA(eta if eta_d is None else eta_d, eta, mode=mode, **kw), eq))
    return cells


def _assert_same(batch, i, single, rtol, oracle="separate kg.simulate run", *, gda=None):
    got = batch.trajectory(i)
    assert got.status == single.status, f"cell {i}: status differs from the {oracle}"
    assert got.y.shape == single.y.shape, f"cell {i}: number of steps differs from the {oracle}"
    # Slice counts: each truncation decision compares a running mass sum with the budget, and
    # the batch forms those sums in another order, so a decision within rounding of its
    # threshold may fall either way and leave the counts one apart. The runs then differ by
    # one slice's contribution, at most each run's certified gradient error (its
    # truncation_bound) per step, moved by at most 2 eta_g max(q) per step (factor 2:
    # extragradient evaluates the gradient twice; the momentum rules here have |beta| <= 0.4).
    flip = got.num_slices != single.num_slices
    assert abs(got.num_slices - single.num_slices) <= 1, \
        f"cell {i}: history length differs from the {oracle} by more than one slice"
    scale = np.abs(single.y).max()
    atol = rtol * scale
    if flip:
        assert gda is not None, f"cell {i}: slice counts differ without history truncation"
        atol += (2 * gda.eta_g * np.max(single.q) * single.num_steps
                 * (got.truncation_bound + single.truncation_bound))
    np.testing.assert_allclose(got.y, single.y, rtol=0, atol=atol,
                               err_msg=f"cell {i}: trajectory differs from the {oracle}")
    if not flip:  # same slices dropped: the certified bounds agree to rounding
        np.testing.assert_allclose(got.truncation_bound, single.truncation_bound, rtol=1e-12, atol=0,
                                   err_msg=f"cell {i}: truncation bound differs from the {oracle}")


@pytest.mark.parametrize("history_tol", [None, 1e-10])
def test_batch_equals_separate_runs(history_tol):
    cells = _isolated_cells([0.3, 1.0], [0.5, 2.0], ["alternating", "simultaneous"])
    y0 = np.array([[[1e-6 * gan.kernel.sigma]] for gan, _, _ in cells])
    batch = kg.simulate_batch([c[0] for c in cells], [c[1] for c in cells], y0, 1.0, 200,
                              start=[c[2] for c in cells], history_tol=history_tol)
    for i, (gan, gda, eq) in enumerate(cells):
        single = kg.simulate(gan, gda, y0[i], 1.0, 200, start=eq, history_tol=history_tol)
        _assert_same(batch, i, single, RTOL, gda=gda)
    if history_tol is not None:
        assert batch.num_slices.max() < 200, "history truncation never dropped a slice"


@pytest.mark.slow  # ~1 s per parameter; test_mixed_rule_batch_general_game_from_f0_zero stays fast
@pytest.mark.parametrize("history_tol", [None, 1e-10])
def test_mixed_rule_batch_from_fixed_point_equals_separate_runs(history_tol):
    # Every rule in one batch (grouped by rule and d_steps inside), started at (f*, Y* + e0).
    # eta_d = 0.2, eta_g = 0.3: every cell stays within a few sigma, where rounding is not
    # amplified chaotically (divergent cells are compared in their own test).
    cells = _isolated_cells([0.5, 1.0], [0.5, 2.0], RULES, eta=0.3, eta_d=0.2)
    y0 = np.array([[[1e-6 * gan.kernel.sigma]] for gan, _, _ in cells])
    batch = kg.simulate_batch([c[0] for c in cells], [c[1] for c in cells], y0, 1.0, 200,
                              start=[c[2] for c in cells], history_tol=history_tol)
    dropped = set()
    for i, (gan, gda, eq) in enumerate(cells):
        single = kg.simulate(gan, gda, y0[i], 1.0, 200, start=eq, history_tol=history_tol)
        _assert_same(batch, i, single, RTOL, f"separate kg.simulate run ({gda.mode}, {gda})", gda=gda)
        assert batch.delays[i] == kg.rules.num_delays(gda.mode), "delays differ from rules.num_delays"
        if single.truncation_bound > 0:
            dropped.add((gda.mode, gda.d_steps))
    if history_tol is not None:
        assert len(dropped) == 6, f"history truncation never dropped a slice in some rule: {dropped}"


def test_two_column_truncation_stays_certified_and_effective():
    # Optimistic GDA, lam = 10: the mixing map's 1-norm is |1 - 2a| + lam ~ 10.8, yet its
    # eigenvalues are inside the unit circle. Tracking the dropped coefficients in the map's
    # eigenbasis keeps the certified bound finite and lets truncation drop most of the history;
    # the run stays on the full-history run, and the batch equals kg.simulate with the same rule.
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.025), lam=10.0)
    eq = kg.find_equilibrium(gan, [[0.0]], 0.8)
    gda = kg.GDA(0.01, 0.01, mode="optimistic")
    batch = kg.simulate_batch(gan, gda, eq.y + 2.5e-8, 0.8, 1000, start=eq, history_tol=1e-12)
    single = kg.simulate(gan, gda, eq.y + 2.5e-8, 0.8, 1000, start=eq, history_tol=1e-12)
    full = kg.simulate(gan, gda, eq.y + 2.5e-8, 0.8, 1000, start=eq)
    bound = batch.truncation_bound[0]
    assert np.isfinite(bound) and bound > 0, "certified bound should be finite after drops"
    assert batch.num_slices[0] < 500, "truncation should drop most of the 1000 slices"
    _assert_same(batch, 0, single, RTOL, "truncated kg.simulate (MultiExpansion)", gda=gda)
    # Gradient error <= bound ~1e-10 per step moves points by <= eta_g q bound per step; with
    # the decay of the converging dynamics the deviation stays far below 1e-3 of the error size.
    np.testing.assert_allclose(batch.trajectory(0).y, full.y, rtol=0,
                               atol=1e-3 * np.abs(full.y - eq.y).max(),
                               err_msg="truncated batch vs full-history kg.simulate")


@pytest.mark.parametrize("history_tol", [None, 1e-8])
def test_mixed_rule_batch_general_game_from_f0_zero(history_tol):
    # Two true points closer than sigma in d = 2, two generated points off them, f0 = 0, the
    # cells differing in bandwidth, regularization and rule; far from any fixed point. 100 steps:
    # the momentum 0.4 transient amplifies rounding about 10x per 30 steps (1e-12 at step 150).
    x, p = [[0.0, 0.0], [0.3, 0.1]], [1.0, 0.5]
    y0 = np.array([[0.05, -0.02], [0.25, 0.15]])
    q = [0.7, 0.8]
    gans, gdas = [], []
    for sigma, lam in [(0.4, 0.5), (0.8, 0.1)]:
        for mode, kw in RULES:
            gans.append(kg.KernelGAN(x, p, kg.Gaussian(sigma=sigma), lam=lam))
            gdas.append(kg.GDA(0.2, 0.3, mode=mode, **kw))
    batch = kg.simulate_batch(gans, gdas, y0, q, 100, history_tol=history_tol)
    for i, (gan, gda) in enumerate(zip(gans, gdas, strict=True)):
        _assert_same(batch, i, kg.simulate(gan, gda, y0, q, 100, history_tol=history_tol), RTOL,
                     f"separate kg.simulate run ({gda})", gda=gda)


@pytest.mark.parametrize("modes, eta", [(["alternating", "simultaneous"], 0.3),
                                        (["extragradient", "optimistic", ("momentum", {"beta": -0.3})], 0.1)])
def test_batch_lam_zero_cycling_matches_separate_runs(modes, eta):
    # lam = 0, delta = 0: alternating cycles at c = 1 (a pair on the unit circle); extragradient and
    # optimistic converge and momentum diverges slowly at c = 1/9 (bilinear limit, theory section 8).
    # The true-point coefficient k eta_d and the history mass -k eta_d q cancel in grad f, so
    # rounding in either implementation grows like k^2 eps (an extended-precision run of the
    # alternating cell puts both within 1e-10 of the exact trajectory); allow 300^2 eps ~ 2e-11.
    cells = _isolated_cells([0.3], [0.0], modes, eta=eta)
    y0 = [[3e-7]]
    batch = kg.simulate_batch([c[0] for c in cells], [c[1] for c in cells], y0, 1.0, 300,
                              start=[c[2] for c in cells])
    for i, (gan, gda, eq) in enumerate(cells):
        single = kg.simulate(gan, gda, y0, 1.0, 300, start=eq)
        _assert_same(batch, i, single, 300**2 * np.finfo(float).eps)


def test_batch_general_game_from_f0_zero():
    # Two true points closer than sigma in d = 2, two generated points off them, f0 = 0,
    # different bandwidths and regularizations per cell; far from any fixed point.
    x, p = [[0.0, 0.0], [0.3, 0.1]], [1.0, 0.5]
    y0 = np.array([[0.05, -0.02], [0.25, 0.15]])
    q = [0.7, 0.8]
    gans = [kg.KernelGAN(x, p, kg.Gaussian(sigma=s), lam=lam) for s, lam in [(0.4, 0.5), (0.8, 0.1)]]
    gdas = [kg.GDA(0.2, 0.3, mode="simultaneous"), kg.GDA(0.2, 0.3)]
    batch = kg.simulate_batch(gans, gdas, y0, q, 150)
    for i in range(2):
        _assert_same(batch, i, kg.simulate(gans[i], gdas[i], y0, q, 150), RTOL)


def test_batch_rational_quadratic_parameters_per_cell():
    gans = [kg.KernelGAN([[0.0]], 1.0, kg.RationalQuadratic(sigma=s, alpha=a), lam=0.3)
            for s, a in [(0.5, 0.5), (0.5, 3.0), (1.2, 1.0)]]
    gda = kg.GDA(0.2, 0.4)
    batch = kg.simulate_batch(gans, gda, [[0.05]], 0.8, 150)
    for i, gan in enumerate(gans):
        _assert_same(batch, i, kg.simulate(gan, gda, [[0.05]], 0.8, 150), RTOL)


@pytest.mark.parametrize("d", [2, 3])
def test_batched_kernel_sum_equals_double_loop(d, rng):
    # The d >= 2 batched sum (squared distances per coordinate, phi' in place, one matrix
    # product with [w, w z]) against a naive double loop over points and centres, per cell,
    # for the three radial profiles the batch supports; coordinates far from 0 (10 sigma) so
    # that the origin shift matters.
    from kernelgda.discriminator.batched import Profiles, expansion_grad
    kernels = [[kg.Gaussian(sigma=s) for s in (0.4, 1.3)],
               [kg.RationalQuadratic(sigma=s, alpha=a) for s, a in ((0.4, 0.7), (1.3, 4.0))],
               [kg.Multiscale(sigmas=(0.3, 1.1), scale_weights=(0.2, 1.0))] * 2]
    for ks in kernels:
        prof = Profiles(ks)
        y = 5.0 + rng.normal(size=(2, 7, d))
        z = 5.0 + rng.normal(size=(2, 40, d))
        w = rng.normal(size=(2, 40))
        factor = np.array([0.7, -1.3])
        got = expansion_grad(prof, y, z, w, factor, [np.empty(0), np.empty(0)], origin=z.mean(axis=1))
        ref = np.zeros_like(y)
        for b, k in enumerate(ks):
            for j in range(7):
                for c in range(40):
                    r = y[b, j] - z[b, c]
                    ref[b, j] += factor[b] * w[b, c] * 2.0 * float(k.dprofile(r @ r)) * r
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13 * np.abs(ref).max(),
                                   err_msg=f"batched d={d} kernel sum vs naive double loop ({ks[0].name})")


@pytest.mark.parametrize("d", [2, 3])
def test_batch_equals_loop_small_n_in_d_dimensions(d, rng):
    # The issue-21 case (small n, d >= 2, truncated history): each cell of the batch equals a
    # separate kg.simulate run to rounding.
    n = 8
    x = rng.normal(size=(n, d))
    y0 = x + 0.1 * rng.normal(size=(n, d))
    gans = [kg.KernelGAN(x, 1.0, kg.Gaussian(sigma=s), lam=0.5) for s in (0.6, 1.0, 1.4)]
    gda = kg.GDA(0.1, 0.05)
    batch = kg.simulate_batch(gans, gda, y0, 1.0, 150, history_tol=1e-8)
    for i, gan in enumerate(gans):
        _assert_same(batch, i, kg.simulate(gan, gda, y0, 1.0, 150, history_tol=1e-8), RTOL,
                     f"separate kg.simulate run (d={d}, sigma={gan.kernel.sigma})", gda=gda)


@pytest.mark.parametrize("mode, kw", RULES)
def test_batch_diverged_cell_stops_like_simulate(mode, kw):
    # lam = delta = 0 with c = 100 (sigma = 0.05): every rule diverges within a few steps
    # (|mu| ~ 10 is outside every stability region, theory section 8); the second cell converges
    # except under momentum 0.4 (rate 1.3), where it diverges later.
    gans = [kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=s), lam=lam) for s, lam in [(0.05, 0.0),
                                                                                     (1.0, 0.5)]]
    gda = kg.GDA(0.5, 0.5, mode=mode, **kw)
    eqs = [kg.find_equilibrium(g, [[0.0]], 1.0) for g in gans]
    batch = kg.simulate_batch(gans, gda, [[1e-3]], 1.0, 400, start=eqs, divergence_bound=0.2)
    assert batch.status[0] == Status.DIVERGED and batch.num_taken[0] < 10, "expected a fast divergence"
    for i, gan in enumerate(gans):
        single = kg.simulate(gan, gda, [[1e-3]], 1.0, 400, start=eqs[i], divergence_bound=0.2)
        assert batch.messages[i] == single.message, "message differs from kg.simulate"
        _assert_same(batch, i, single, RTOL)
    assert np.isnan(batch.y[0, batch.num_taken[0] + 1:]).all(), "rows after divergence must be nan"


@pytest.mark.parametrize("mode, kw", [("alternating", {}), ("optimistic", {}), ("momentum", {"beta": -0.3})])
def test_batch_measure_equals_trajectory_measure(mode, kw):
    # Optimistic and momentum carry a second state copy: 4 delays (kernelgda.rules.num_delays).
    cells = _isolated_cells([0.5], [0.5, 1.0], [(mode, kw)], eta=0.2)
    batch = kg.simulate_batch([c[0] for c in cells], [c[1] for c in cells], [[5e-7]], 1.0, 300,
                              start=[c[2] for c in cells])
    meas = batch.measure(np.zeros((1, 1)))
    for i, (gan, _, _) in enumerate(cells):
        single = batch.trajectory(i).measure([[0.0]])
        assert batch.trajectory(i).delays == kg.rules.num_delays(mode)
        np.testing.assert_allclose(meas.dominant[i], single.dominant, rtol=0, atol=0,
                                   err_msg="batched measurement differs from Trajectory.measure")
        # theory section 7: the fitted rate equals the closed form (~1e-9 in practice)
        ref = kg.isolated.eigenvalues(eta_d=0.2, eta_g=0.2, lam=gan.lam, sigma=0.5, mode=mode, **kw)
        np.testing.assert_allclose(meas.rate[i], ref.generator_rate, rtol=0, atol=1e-6,
                                   err_msg="measured rate vs kg.isolated.eigenvalues")


@pytest.mark.parametrize("kwargs, match", [
    ({"gans": kg.KernelGAN([[0.0]], 1.0, kg.Laplacian(sigma=1.0), lam=0.5)}, "laplacian"),
    ({"gdas": [kg.GDA(0.1, 0.1)] * 3}, "gdas has 3"),
    ({"history_tol": 2.0}, "history_tol"),
    ({"y0": [[[0.1]], [[0.2]], [[0.3]]]}, "y0 has 3"),
    ({"gans": "not a game"}, "gans"),
])
def test_batch_bad_input(kwargs, match):
    gans = [kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=s), lam=0.5) for s in (0.5, 1.0)]
    args = {"gans": gans, "gdas": kg.GDA(0.1, 0.1), "y0": [[0.1]], "q": 1.0, "history_tol": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        kg.simulate_batch(args["gans"], args["gdas"], args["y0"], args["q"], 10,
                          history_tol=args["history_tol"])
