"""kg.wasserstein2 against independent oracles: assignment for equal uniform sets, quantiles in 1-D."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import kernelgda as kg


def quantile_w2(y, q, x, p):
    """1-D W2^2 from the quantile functions: integral over t of (F^-1(t) - G^-1(t))^2."""
    iy, ix = np.argsort(y), np.argsort(x)
    y, q, x, p = y[iy], q[iy] / q.sum(), x[ix], p[ix] / p.sum()
    cuts = np.union1d(np.cumsum(q), np.cumsum(p))
    cuts = cuts[cuts < 1 - 1e-15]
    ts = np.concatenate([[0.0], cuts, [1.0]])
    total = 0.0
    for a, b in zip(ts[:-1], ts[1:], strict=True):
        mid = 0.5 * (a + b)
        fy = y[min(np.searchsorted(np.cumsum(q), mid), len(y) - 1)]
        fx = x[min(np.searchsorted(np.cumsum(p), mid), len(x) - 1)]
        total += (b - a) * (fy - fx) ** 2
    return total


def test_equal_uniform_sets_match_assignment(rng):
    for n, d in [(1, 1), (5, 2), (12, 3)]:
        y, x = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        cost = ((y[:, None] - x[None]) ** 2).sum(-1)
        rows, cols = linear_sum_assignment(cost)
        expected = cost[rows, cols].mean()
        np.testing.assert_allclose(kg.wasserstein2(y, 1.0, x, 1.0), expected, rtol=1e-12, atol=1e-14,
                                   err_msg="optimal assignment (scipy)")


def test_weighted_1d_matches_quantile_closed_form(rng):
    for n, m in [(3, 4), (7, 2), (6, 6)]:
        y, x = rng.normal(size=n), rng.normal(size=m) + 0.5
        q, p = rng.uniform(0.2, 2.0, n), rng.uniform(0.2, 2.0, m)
        np.testing.assert_allclose(kg.wasserstein2(y[:, None], q, x[:, None], p), quantile_w2(y, q, x, p),
                                   rtol=1e-10, atol=1e-14, err_msg="quantile functions, 1-D")


def test_mass_mismatch_is_normalised():
    # Q has twice the mass of P but the same shape: after normalisation the distance is 0.
    w = kg.wasserstein2([[0.0], [1.0]], [2.0, 2.0], [[0.0], [1.0]], [1.0, 1.0])
    assert w == pytest.approx(0.0, abs=1e-15), "same shape after normalisation"


def test_series_strides_and_keeps_the_last(rng):
    y = rng.normal(size=(8, 3, 2))
    x = rng.normal(size=(2, 2))
    steps, w = kg.wasserstein2_series(y, 1.0, x, [0.3, 0.7], every=3)
    assert steps.tolist() == [0, 3, 6, 7]
    expected = [kg.wasserstein2(y[k], 1.0, x, [0.3, 0.7]) for k in steps]
    np.testing.assert_allclose(w, expected, rtol=1e-13, err_msg="pointwise wasserstein2")


@pytest.mark.parametrize("args, match", [
    (([[0.0]], [0.0], [[1.0]], 1.0), "q: weights must have a positive sum"),
    (([[0.0]], 1.0, [[1.0, 2.0]], 1.0), "x must have dimension"),
    (([[np.nan]], 1.0, [[1.0]], 1.0), "y must contain only finite"),
    (([[0.0]], [-1.0], [[1.0]], 1.0), "q must be >= 0"),
])
def test_bad_input_names_the_argument(args, match):
    with pytest.raises(ValueError, match=match):
        kg.wasserstein2(*args)


def test_series_bad_input():
    with pytest.raises(ValueError, match="every must be >= 1"):
        kg.wasserstein2_series(np.zeros((2, 1, 1)), 1.0, [[0.0]], 1.0, every=0)
    with pytest.raises(ValueError, match=r"y must be a non-empty \(K \+ 1, n, d\) array"):
        kg.wasserstein2_series(np.zeros((2, 1)), 1.0, [[0.0]], 1.0)


def test_trajectory_series_with_record_every_names_the_gda_steps():
    # Trajectory.wasserstein2: every 2nd recorded row of a run recorded every 3 steps, so GDA
    # steps 0, 6, 12, ... and the last (20); each value against the optimal assignment of the
    # recorded configuration (uniform weights, 3 points each).
    x = np.array([[0.0, 0.0], [1.0, 0.3], [-0.5, 0.8]])
    gan = kg.KernelGAN(x, 1.0, kg.Gaussian(sigma=1.0), lam=0.3)
    y0 = x + np.array([[0.4, -0.2], [0.1, 0.3], [-0.3, -0.1]])
    traj = kg.simulate(gan, kg.GDA(0.5, 0.5), y0, 1.0, num_steps=20, record_every=3)
    steps, values = traj.wasserstein2(x, 1.0, every=2)
    np.testing.assert_array_equal(steps, [0, 6, 12, 18, 20])
    recorded = dict(zip(traj.steps.tolist(), traj.y, strict=True))
    for k, v in zip(steps, values, strict=True):
        cost = ((recorded[k][:, None] - x[None]) ** 2).sum(-1)
        rows, cols = linear_sum_assignment(cost)
        np.testing.assert_allclose(v, cost[rows, cols].mean(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(v, kg.wasserstein2(recorded[k], 1.0, x, 1.0), rtol=1e-12)
    assert values[-1] < values[0]
