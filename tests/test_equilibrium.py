"""Fixed points by Newton's method (theory section 3)."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")


def _oracle_residual(gan, eq):
    """``max |grad f*(y_j*)|`` from the naive kernel sums (times ``lam``)."""
    g = (oracles.naive_grad_sum(gan.kernel, eq.y, gan.x_true, gan.p_true)
         - oracles.naive_grad_sum(gan.kernel, eq.y, eq.y, eq.q))
    return np.abs(g).max()


def test_quadratic_convergence_from_a_distant_start():
    gan = kg.KernelGAN([[0.0, 0.0], [0.8, 0.3]], [1.0, 0.7], kg.Gaussian(sigma=0.5), lam=0.4)
    eq = kg.find_equilibrium(gan, [[0.1, -0.05], [0.7, 0.35]], [0.9, 0.6])
    assert eq.converged, eq.message
    r = np.array(eq.residuals)
    assert r[0] > 0.1, "the start must be well away from the fixed point"
    # Newton: r_{k+1} <= C r_k^2 with C ~ |G''| |G'^{-1}| / 2 ~ 1 in these units (observed
    # 0.2-1.2); C = 5 leaves a margin. Pairs ending at rounding (< 1e-14) say nothing.
    asym = [(a, b) for a, b in zip(r[:-1], r[1:], strict=True) if b > 1e-14 and a < 0.05]
    assert len(asym) >= 2, f"too few Newton steps in the asymptotic range: {r}"
    for a, b in asym:
        assert b <= 5.0 * a**2, f"not quadratic: r_k = {a:.2e}, r_k+1 = {b:.2e} (history {r})"
    # Independent check of the fixed point: grad f* from naive double loops.
    assert _oracle_residual(gan, eq) < 1e-13, "grad f*(Y*) = 0 (naive kernel sums)"
    np.testing.assert_allclose(eq.residual, _oracle_residual(gan, eq) / gan.lam, rtol=0, atol=1e-13)


def test_coincident_start_is_already_a_fixed_point():
    gan = kg.KernelGAN([[0.3, -0.2]], 1.0, kg.Gaussian(sigma=0.5), lam=0.3)
    eq = kg.find_equilibrium(gan, [[0.3, -0.2], [0.3, -0.2]], [0.4, 0.6])
    # the residual cancels exactly in exact arithmetic; allow rounding of the O(1) kernel terms
    assert eq.converged and eq.iterations == 0 and eq.residual <= 1e-14
    np.testing.assert_array_equal(eq.y, [[0.3, -0.2], [0.3, -0.2]])


def test_two_points_collapse_onto_one_true_point_with_matching_mass():
    """q1 + q2 = p: the spread direction is degenerate (neutral), so Newton converges only
    linearly along it; it must still stop with a small residual near the true point."""
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.5), lam=0.4)
    eq = kg.find_equilibrium(gan, [[0.05], [-0.03]], [0.4, 0.6])
    assert eq.converged, eq.message
    # Along the degenerate direction G ~ s^3: at the stopping tolerance s ~ 1e-4 sigma.
    np.testing.assert_allclose(eq.y, 0.0, atol=1e-3 * 0.5, err_msg="collapse onto the true point")
    assert _oracle_residual(gan, eq) < 1e-11


def test_two_points_collapse_quadratically_with_a_mass_deficit():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.5), lam=0.4)
    eq = kg.find_equilibrium(gan, [[0.05], [-0.03]], [0.3, 0.5])
    assert eq.converged and eq.iterations <= 8, eq.message
    np.testing.assert_allclose(eq.y, 0.0, atol=1e-12, err_msg="regular Jacobian: exact collapse")


@pytest.mark.parametrize("p, where", [([0.5, 0.5], 0.0), ([0.7, 0.4], None)])
def test_spurious_fixed_point_between_two_true_points(p, where):
    gan = kg.KernelGAN([[-0.4], [0.4]], p, kg.Gaussian(sigma=0.5), lam=0.4)
    eq = kg.find_equilibrium(gan, [[0.05]], 1.0)
    assert eq.converged, eq.message
    assert -0.4 < eq.y[0, 0] < 0.4, "the spurious point lies between the true points"
    if where is not None:  # by symmetry
        assert abs(eq.y[0, 0] - where) < 1e-12
    assert _oracle_residual(gan, eq) < 1e-13, "grad f* = 0 at the spurious point (naive sums)"
    # It is a saddle of the MMD flow: linearization finds it unstable.
    lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.2))
    assert lin.regime == "divergent"


def test_failure_is_reported_not_raised():
    gan = kg.KernelGAN([[0.0, 0.0], [0.8, 0.3]], [1.0, 0.7], kg.Gaussian(sigma=0.5), lam=0.4)
    eq = kg.find_equilibrium(gan, [[0.4, 0.4], [0.9, -0.3]], [0.9, 0.6], max_iter=1)
    assert not eq.converged
    assert eq.iterations == 1 and eq.residual > 1e-3
    assert "did not converge" in eq.message and "1 iterations" in eq.message


def test_newton_does_not_leap_to_the_flat_far_region():
    """A full Newton step from this start lands ~10 sigma away where every gradient vanishes."""
    gan = kg.KernelGAN([[0.0, 0.0], [0.8, 0.3]], [1.0, 0.7], kg.Gaussian(sigma=0.5), lam=0.4)
    eq = kg.find_equilibrium(gan, [[0.4, 0.4], [0.9, -0.3]], [0.9, 0.6])
    assert eq.converged
    assert np.abs(eq.y).max() < 2.0, f"Newton left the data: {eq.y}"


def test_lam_zero_refused_unless_perfect_match():
    gan = kg.KernelGAN([[0.0], [1.0]], [1.0, 0.5], kg.Gaussian(sigma=0.4), lam=0.0)
    with pytest.raises(ValueError, match="lam = 0.*perfect match"):
        kg.find_equilibrium(gan, [[0.0], [1.0]], [0.6, 0.5])
    eq = kg.find_equilibrium(gan, [[0.0], [1.0]], [1.0, 0.5])
    assert eq.converged and eq.residual <= 1e-14  # zero up to rounding of the O(1) kernel terms


def test_laplacian_newton_raises_clearly():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Laplacian(sigma=0.5), lam=0.3)
    with pytest.raises(ValueError, match="not differentiable"):
        kg.find_equilibrium(gan, [[0.1]], 1.0)


@pytest.mark.parametrize("y0, q, kwargs, name", [
    ([[np.nan, 0.0]], 1.0, {}, "y"),
    ([[0.0, 0.0, 0.0]], 1.0, {}, "y"),
    ([[0.0, 0.0]], [1.0, 1.0], {}, "q"),
    ([[0.0, 0.0]], 0.0, {}, "q"),
    ([[0.0, 0.0]], -1.0, {}, "q"),
    ([[0.0, 0.0]], np.inf, {}, "q"),
    ([[0.0, 0.0]], 1.0, {"tol": 0.0}, "tol"),
    ([[0.0, 0.0]], 1.0, {"max_iter": 0}, "max_iter"),
    ([[0.0, 0.0]], 1.0, {"max_iter": 2.5}, "max_iter"),
])
def test_bad_input(y0, q, kwargs, name):
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=0.5), lam=0.3)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kg.find_equilibrium(gan, y0, q, **kwargs)
    with pytest.raises(ValueError, match="gan must be a KernelGAN"):
        kg.find_equilibrium("gan", [[0.0, 0.0]], 1.0)


def test_points_sharing_a_true_point_are_merged_when_started_apart():
    # Two generated points with q1 + q2 = p started on either side of the true point: the spread
    # direction is neutral and Newton alone stops ~1e-5 sigma apart. The merged configuration is
    # the fixed point (oracle: the isolated closed form, theory section 5, which has one location
    # and no 1 - eta_d lam mode in the reduced state).
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), 0.5)
    eq = kg.find_equilibrium(gan, [[0.3], [-0.2]], [0.5, 0.5])
    assert eq.converged
    np.testing.assert_allclose(eq.y, 0.0, atol=1e-12)
    lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.1))
    assert lin.num_locations == 1
    r = kg.isolated.eigenvalues(p=1.0, q=0.5, n=2, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=1.0)
    expect = np.sort(np.abs(np.concatenate([r.rho_c, [r.rho_b]])))
    np.testing.assert_allclose(np.sort(np.abs(lin.eigenvalues)), expect, atol=1e-10)
