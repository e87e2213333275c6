"""Exact GDA dynamics (theory section 2) against a naive simulator that rebuilds f^k every step."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.status import Status

from . import oracles
from .cases import unit

pytestmark = pytest.mark.usefixtures("strict_float")

MODES = ("alternating", "simultaneous")
X = np.array([[0.0, 0.0], [0.7, 0.2], [0.1, 0.8]])
P = np.array([1.0, 0.7, 0.9])


def _game(kernel, lam=0.4):
    return kg.KernelGAN(X, P, kernel, lam)


def _naive(gan, gda, y0, q, num_steps, eq=None):
    return oracles.naive_simulate(gan.kernel, gan.x_true, gan.p_true, gan.lam, gda.eta_d, gda.eta_g,
                                  gda.mode, np.asarray(y0, dtype=float), np.asarray(q, dtype=float),
                                  num_steps, fstar_y=None if eq is None else eq.y)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", [kg.Gaussian(sigma=0.5), kg.RationalQuadratic(sigma=0.6, alpha=1.5),
                                    kg.Multiscale(sigmas=(0.4, 1.2))], ids=["gauss", "rq", "multi"])
def test_from_zero_discriminator_matches_naive_simulator(kernel, mode, rng):
    gan = _game(kernel)
    gda = kg.GDA(0.1, 0.3, mode)
    y0 = X + rng.normal(scale=0.1, size=X.shape)
    q = 0.9 * P
    traj = kg.simulate(gan, gda, y0, q, 200)
    want = _naive(gan, gda, y0, q, 200)
    # Same expansion summed in another order and form (matrix products vs broadcasting):
    # ~1e2 eps per step, carried by a non-expanding map over 200 steps: 1e-10 of |Y| ~ 1.
    np.testing.assert_allclose(traj.y, want, rtol=0, atol=1e-10,
                               err_msg="simulate vs naive simulator rebuilding f^k (theory section 2)")
    assert traj.status == Status.COMPLETED and traj.num_steps == 200


@pytest.mark.parametrize("mode", MODES)
def test_from_equilibrium_discriminator_matches_naive_simulator(mode, rng):
    gan = _game(kg.Gaussian(sigma=0.5))
    eq = kg.find_equilibrium(gan, X + 0.01, 0.9 * P)
    gda = kg.GDA(0.1, 0.2, mode)
    y0 = eq.y + unit(rng, eq.y.shape, 1e-2)
    traj = kg.simulate(gan, gda, y0, eq.q, 300, start=eq)
    want = _naive(gan, gda, y0, eq.q, 300, eq=eq)
    np.testing.assert_allclose(traj.y, want, rtol=0, atol=1e-10,
                               err_msg="simulate(start=eq) vs naive simulator with f0 = f*")


def _used_gradients(traj, gda, q):
    """The gradient each step of a run used, read back from ``Y^{k+1} - Y^k = eta_g q grad f``.

    Reading it back costs ``eps |Y| / (eta_g q)`` ~ 1e-15 here.
    """
    return (traj.y[1:] - traj.y[:-1]) / (gda.eta_g * np.asarray(q)[:, None])


def _oracle_gradients(gan, gda, q, traj):
    """``grad f^k(Y^k)`` (simultaneous) or ``grad f^{k+1}(Y^k)`` (alternating), rebuilt by the
    oracle from the run's own history at every step."""
    history = list(traj.y)
    shift = 1 if gda.mode == "alternating" else 0
    return np.array([oracles.naive_fgrad(gan.kernel, gan.x_true, gan.p_true, gan.lam, gda.eta_d,
                                         np.asarray(q), history, k + shift, traj.y[k])
                     for k in range(traj.num_steps)])


@pytest.mark.parametrize("mode", MODES)
def test_lam_zero_and_laplacian_match_naive_expansion(mode, rng):
    """The Laplacian run is chaotic: a point sits within ~1e-3 sigma of its own past
    positions, where the Hessian of K is ~1 / (sigma |r|), so rounding grows ~3x per step
    and whole trajectories can only be compared for a few steps. Instead every step's
    gradient is compared with the oracle's expansion rebuilt on the run's own history."""
    gan = kg.KernelGAN(X[:2], P[:2], kg.Laplacian(sigma=0.6), 0.0)
    gda = kg.GDA(0.1, 0.1, mode)
    y0 = X[:2] + rng.normal(scale=0.05, size=(2, 2))
    traj = kg.simulate(gan, gda, y0, P[:2], 40)
    np.testing.assert_allclose(_used_gradients(traj, gda, P[:2]), _oracle_gradients(gan, gda, P[:2], traj),
                               rtol=0, atol=1e-12, err_msg="Laplacian, lam = 0: step gradients vs naive sums")
    want = _naive(gan, gda, y0, P[:2], 8)
    np.testing.assert_allclose(traj.y[:9], want, rtol=0, atol=1e-11,
                               err_msg="Laplacian, lam = 0: first 8 steps vs naive simulator")


def test_starting_at_the_fixed_point_stays_there():
    gan = _game(kg.Gaussian(sigma=0.5))
    eq = kg.find_equilibrium(gan, X + 0.01, 0.9 * P)
    for mode in MODES:
        traj = kg.simulate(gan, kg.GDA(0.1, 0.2, mode), eq.y, eq.q, 200, start=eq)
        # The fixed point holds to its residual (~1e-16): the run moves by rounding only.
        assert traj.distance(eq.y).max() < 1e-13, f"{mode}: drift from a fixed point"


@pytest.mark.parametrize("mode", MODES)
def test_history_truncation_stays_within_its_bound(mode, rng):
    gan = _game(kg.Gaussian(sigma=0.5), lam=1.0)
    gda = kg.GDA(0.1, 0.3, mode)
    y0 = X + rng.normal(scale=0.1, size=X.shape)
    q = 0.9 * P
    num_steps = 400
    trunc = kg.simulate(gan, gda, y0, q, num_steps, history_tol=1e-6)
    full = kg.simulate(gan, gda, y0, q, num_steps)
    assert trunc.num_slices < num_steps // 2, "the history must have been truncated"
    assert 0 < trunc.truncation_bound
    # The gradient each step used against the full expansion rebuilt by the oracle along
    # the *same* trajectory; the bound is rigorous, 1e-13 covers the read-back rounding.
    err = np.linalg.norm(_used_gradients(trunc, gda, q) - _oracle_gradients(gan, gda, q, trunc), axis=2)
    assert err.max() <= trunc.truncation_bound + 1e-13, \
        f"gradient error {err.max():.2e} above the reported bound {trunc.truncation_bound:.2e}"
    # Per step the positions differ by at most eta_g q bound; a contracting run does not
    # amplify that, so the deviation stays below num_steps eta_g max(q) bound.
    deviation = np.abs(trunc.y - full.y).max()
    assert deviation <= num_steps * gda.eta_g * q.max() * trunc.truncation_bound, \
        f"truncated vs full run: deviation {deviation:.2e}"


def test_blow_up_stops_early_without_warnings():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.5), lam=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = kg.simulate(gan, kg.GDA(1.0, 1.0, "simultaneous"), [[0.1]], 1.0, 300, divergence_bound=5.0)
        assert traj.status == Status.DIVERGED and traj.num_steps < 300
        assert f"step {traj.num_steps + 1}" in traj.message, traj.message
        assert np.all(np.abs(traj.y) <= 5.0), "the kept rows are those inside the bound"
        # A huge learning rate: the default bound (1e6 max(sigma, extent)) is crossed at once.
        huge = kg.simulate(gan, kg.GDA(0.1, 1e300, "alternating"), [[0.1]], 1.0, 50)
        assert huge.status == Status.DIVERGED and "step 1" in huge.message
        assert np.all(np.isfinite(huge.y))


def test_trajectory_helpers(rng):
    gan = _game(kg.Gaussian(sigma=0.5))
    y0 = X + 0.05
    traj = kg.simulate(gan, kg.GDA(0.1, 0.2), y0, P, 5)
    assert traj.y.shape == (6, 3, 2) and traj.q.shape == (3,) and traj.sigma == 0.5
    d = traj.distance(X)
    np.testing.assert_allclose(d, np.sqrt(((traj.y - X) ** 2).sum(axis=(1, 2))), rtol=1e-15)
    assert np.isnan(traj.rate(X)), "five steps are too few to fit a rate"
    with pytest.raises(ValueError, match="y_star must have shape"):
        traj.distance(X[:2])
    assert kg.simulate(gan, kg.GDA(0.1, 0.2), y0, P, 0).y.shape == (1, 3, 2)


@pytest.mark.parametrize("kwargs, name", [
    ({"y0": [[0.0, 0.0, 0.0]]}, "y"),
    ({"y0": [[np.nan, 0.0]]}, "y"),
    ({"y0": [[np.inf, 0.0]]}, "y"),
    ({"q": [1.0, 1.0]}, "q"),
    ({"q": 0.0}, "q"),
    ({"q": -0.5}, "q"),
    ({"q": np.nan}, "q"),
    ({"num_steps": -1}, "num_steps"),
    ({"num_steps": 2.5}, "num_steps"),
    ({"num_steps": "ten"}, "num_steps"),
    ({"history_tol": True}, "history_tol"),  # 0 is allowed: the whole history
    ({"history_tol": 1.0}, "history_tol"),
    ({"history_tol": -1e-3}, "history_tol"),
    ({"history_tol": np.nan}, "history_tol"),
    ({"divergence_bound": 0.0}, "divergence_bound"),
    ({"start": "eq"}, "start"),
    ({"gan": "gan"}, "gan"),
    ({"gda": "alternating"}, "gda"),
])
def test_bad_input(kwargs, name):
    args = {"gan": kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=0.5), 0.3),
            "gda": kg.GDA(0.1, 0.1), "y0": [[0.1, 0.0]], "q": 1.0, "num_steps": 10} | kwargs
    gan, gda, y0, q = args.pop("gan"), args.pop("gda"), args.pop("y0"), args.pop("q")
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kg.simulate(gan, gda, y0, q, **args)


def test_start_with_other_number_of_points_raises():
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=0.5), 0.3)
    eq = kg.find_equilibrium(gan, [[0.0, 0.0], [0.0, 0.0]], [0.5, 0.5])
    with pytest.raises(ValueError, match="start"):
        kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.0, 0.0]], 1.0, 10, start=eq)
