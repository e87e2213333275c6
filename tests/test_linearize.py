"""Linearization at any fixed point (theory section 4) against the exact nonlinear map."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg

from . import oracles
from .cases import CASES, unit

pytestmark = pytest.mark.usefixtures("strict_float")

MODES = ("alternating", "simultaneous")
# The finite-difference oracle needs f* = (K(., X) p - K(., Y*) q) / lam, so lam > 0.
FD_CASES = [c for c in CASES if c.lam > 0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", FD_CASES, ids=[c.name for c in FD_CASES])
def test_matrix_matches_finite_difference_jacobian(case, mode):
    gan, eq = case.solve()
    lin = kg.linearize(gan, eq, case.gda(mode))
    fd, locs = oracles.fd_reduced_jacobian(gan.kernel, gan.x_true, gan.p_true, gan.lam, case.eta_d,
                                           case.eta_g, mode, eq.y, eq.q)
    np.testing.assert_allclose(lin.locations, locs, rtol=0, atol=0,
                               err_msg="distinct locations (first-occurrence order)")
    # Central differences with steps 1e-6 (B) and 1e-6 sigma (e): truncation ~1e-12 and
    # rounding eps |Y*| / h ~ 1e-10 per entry, entries of J are O(1).
    np.testing.assert_allclose(lin.matrix, fd, rtol=0, atol=1e-8,
                               err_msg="J vs finite-difference Jacobian of the exact one-step map")


@pytest.mark.parametrize("case", [c for c in CASES if "coincident" in c.tags],
                         ids=[c.name for c in CASES if "coincident" in c.tags])
def test_coincident_points_share_one_location(case):
    gan, eq = case.solve()
    for mode in MODES:
        lin = kg.linearize(gan, eq, case.gda(mode))
        n, d = eq.y.shape
        assert lin.num_locations < n, "coincident generated points must share one location"
        assert lin.matrix.shape == ((lin.num_locations + n) * d,) * 2
        # With one B per generated point J would gain eigenvalues 1 - eta_d lam reaching e
        # (theory section 4); merged, none is within rounding of it.
        spurious = 1.0 - case.eta_d * case.lam
        gap = np.abs(lin.eigenvalues - spurious).min()
        assert gap > 1e-6, f"spurious eigenvalue 1 - eta_d lam in the spectrum ({mode}, gap {gap:.1e})"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_iterate_reproduces_exact_simulation(case, mode, rng):
    """Iterating J from (0, e0) follows the exact run from (f*, Y* + e0) while |e| << sigma.

    Justification of the tolerance: the neglected terms of the one-step map are
    O(|e|^2 / sigma), a relative error ~|e| / sigma = 1e-7 per step, which adds up
    to ~T 1e-7 = 3e-5 over T = 300 steps when |e| grows; the fixed point found by
    Newton is off by ~residual / |H| ~ 1e-13 sigma, 1e-6 relative to e0; rounding of
    Y (size ~1) adds ~eps sqrt(T) / 1e-7 ~ 1e-8. A relative agreement of 1e-4 of
    the largest |e| leaves a margin of ~3 over the sum.
    """
    gan, eq = case.solve()
    gda = case.gda(mode)
    lin = kg.linearize(gan, eq, gda)
    num_steps = 300
    if lin.generator_rate > 1:  # stop while |e| is still below ~1e-5 sigma
        num_steps = min(num_steps, int(np.log(100.0) / np.log(lin.generator_rate)))
    e0 = unit(rng, eq.y.shape, 1e-7 * gan.kernel.sigma)
    traj = kg.simulate(gan, gda, eq.y + e0, eq.q, num_steps, start=eq)
    e_sim = traj.y - eq.y
    e_lin = lin.iterate(e0, num_steps)
    scale = np.abs(e_lin).max()
    np.testing.assert_allclose(e_sim, e_lin, rtol=0, atol=1e-4 * scale,
                               err_msg="iterated J vs exact simulation from (f*, Y* + e0)")


def test_simultaneous_is_a_first_order_step_of_the_continuous_field():
    case = CASES[0]
    gan, eq = case.solve()
    mu = case.eta_g / case.eta_d
    errors = []
    for eta_d in (1e-2, 1e-3, 1e-4):
        sim = kg.linearize(gan, eq, kg.GDA(eta_d, mu * eta_d, "simultaneous"))
        alt = kg.linearize(gan, eq, kg.GDA(eta_d, mu * eta_d, "alternating"))
        a_mat = sim.continuous
        size = a_mat.shape[0]
        # J_sim = I + eta_d A exactly (theory sections 4 and 8).
        np.testing.assert_allclose((sim.matrix - np.eye(size)) / eta_d, a_mat, rtol=0, atol=1e-9,
                                   err_msg="J_sim = I + eta_d A")
        errors.append(np.abs((alt.matrix - np.eye(size)) / eta_d - a_mat).max())
    # J_alt = I + eta_d A + O(eta_d^2): the error of (J_alt - I)/eta_d shrinks 10x per decade.
    slopes = np.diff(np.log10(errors))
    np.testing.assert_allclose(slopes, -1.0, atol=0.02, err_msg="first-order convergence of J_alt to A")


def test_spectrum_summary_is_consistent():
    case = CASES[0]
    gan, eq = case.solve()
    for mode in MODES:
        lin = kg.linearize(gan, eq, case.gda(mode))
        ev = np.linalg.eigvals(lin.matrix)
        assert oracles.match_eigenvalues(ev, lin.eigenvalues) < 1e-12, "eigenvalues of matrix"
        vis = lin.eigenvalues[lin.visible]
        assert abs(abs(lin.dominant) - np.abs(vis).max()) < 1e-14, "dominant = largest visible"
        assert lin.dominant.imag >= 0
        assert lin.generator_rate == pytest.approx(abs(lin.dominant), rel=1e-15)
        want_radius = max(np.abs(ev).max(), 1 - case.eta_d * case.lam)
        assert lin.spectral_radius == pytest.approx(want_radius, rel=1e-13)
        assert lin.regime == kg.classify(lin.dominant, lin.tol)


def test_laplacian_refused():
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Laplacian(sigma=0.5), lam=0.3)
    eq = kg.find_equilibrium(gan, [[0.0, 0.0]], 1.0)
    with pytest.raises(ValueError, match="Laplacian kernel is not differentiable"):
        kg.linearize(gan, eq, kg.GDA(0.1, 0.1))


def test_bad_input():
    case = CASES[0]
    gan, eq = case.solve()
    gda = case.gda("alternating")
    failed = kg.find_equilibrium(gan, [[0.2, 0.3], [0.6, -0.2]], eq.q, max_iter=1)
    assert not failed.converged
    with pytest.raises(ValueError, match="eq is not a fixed point"):
        kg.linearize(gan, failed, gda)
    with pytest.raises(ValueError, match="eq must be an Equilibrium"):
        kg.linearize(gan, eq.y, gda)
    with pytest.raises(ValueError, match="gda must be a GDA"):
        kg.linearize(gan, eq, "alternating")
    with pytest.raises(ValueError, match="gan must be a KernelGAN"):
        kg.linearize(None, eq, gda)
    with pytest.raises(ValueError, match="tol"):
        kg.linearize(gan, eq, gda, tol=-1e-6)
    lin = kg.linearize(gan, eq, gda)
    with pytest.raises(ValueError, match="e0 must have shape"):
        lin.iterate(np.zeros((3, 2)), 10)
    with pytest.raises(ValueError, match="num_steps"):
        lin.iterate(np.zeros((2, 2)), -1)
