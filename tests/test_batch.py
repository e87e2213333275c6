"""Batched exact dynamics: every cell of a batch equals a separate ``kg.simulate`` run."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg

pytestmark = pytest.mark.usefixtures("strict_float")

# Separate runs and the batch sum the same kernel expansion in a different order (the
# batch uses direct differences y - z, simulate the matrix-product form), so they agree
# to rounding: a few eps per step, relative to the size of the error |Y^k - Y*|.
RTOL = 1e-12


def _isolated_cells(sigmas, lams, modes, eta=0.3):
    cells = []
    for sigma in sigmas:
        for lam in lams:
            for mode in modes:
                gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=sigma), lam=lam)
                eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
                cells.append((gan, kg.GDA(eta, eta, mode=mode), eq))
    return cells


def _assert_same(batch, i, single, rtol, oracle="separate kg.simulate run"):
    got = batch.trajectory(i)
    assert got.status == single.status, f"cell {i}: status differs from the {oracle}"
    assert got.y.shape == single.y.shape, f"cell {i}: number of steps differs from the {oracle}"
    scale = np.abs(single.y).max()
    np.testing.assert_allclose(got.y, single.y, rtol=0, atol=rtol * scale,
                               err_msg=f"cell {i}: trajectory differs from the {oracle}")
    assert got.num_slices == single.num_slices, f"cell {i}: history length differs from the {oracle}"
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
        _assert_same(batch, i, single, RTOL)
    if history_tol is not None:
        assert batch.num_slices.max() < 200, "history truncation never dropped a slice"


def test_batch_lam_zero_cycling_matches_separate_runs():
    # lam = 0, c = 1: a pair on the unit circle (cycling). The true-point coefficient
    # k eta_d and the history mass -k eta_d q cancel in grad f, so rounding in either
    # implementation grows like k^2 eps (an extended-precision run of this cell puts
    # both within 1e-10 of the exact trajectory); allow 300^2 eps ~ 2e-11.
    cells = _isolated_cells([0.3], [0.0], ["alternating", "simultaneous"])
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


def test_batch_diverged_cell_stops_like_simulate():
    # Simultaneous GDA at lam = delta = 0 diverges (det = 1 + c); small sigma makes it fast.
    gans = [kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=s), lam=lam) for s, lam in [(0.05, 0.0),
                                                                                     (1.0, 0.5)]]
    gda = kg.GDA(0.5, 0.5, mode="simultaneous")
    eqs = [kg.find_equilibrium(g, [[0.0]], 1.0) for g in gans]
    batch = kg.simulate_batch(gans, gda, [[1e-3]], 1.0, 400, start=eqs, divergence_bound=0.5)
    assert batch.status.tolist() == ["diverged", "completed"], "expected one diverged cell"
    for i, gan in enumerate(gans):
        single = kg.simulate(gan, gda, [[1e-3]], 1.0, 400, start=eqs[i], divergence_bound=0.5)
        assert batch.messages[i] == single.message, "message differs from kg.simulate"
        _assert_same(batch, i, single, RTOL)
    assert np.isnan(batch.y[0, batch.num_taken[0] + 1:]).all(), "rows after divergence must be nan"


def test_batch_measure_equals_trajectory_measure():
    cells = _isolated_cells([0.5], [0.5, 1.0], ["alternating"])
    batch = kg.simulate_batch([c[0] for c in cells], [c[1] for c in cells], [[5e-7]], 1.0, 300,
                              start=[c[2] for c in cells])
    meas = batch.measure(np.zeros((1, 1)))
    for i in range(len(cells)):
        single = batch.trajectory(i).measure([[0.0]])
        np.testing.assert_allclose(meas.dominant[i], single.dominant, rtol=0, atol=0,
                                   err_msg="batched measurement differs from Trajectory.measure")


@pytest.mark.parametrize("kwargs, match", [
    ({"gans": kg.KernelGAN([[0.0]], 1.0, kg.Laplacian(sigma=1.0), lam=0.5)}, "laplacian"),
    ({"gdas": kg.GDA(0.1, 0.1, mode="extragradient")}, "mode"),
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
