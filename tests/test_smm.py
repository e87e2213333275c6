"""The second-moment model (theory section 9) against independent oracles."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from tests import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

SMOOTH_KERNELS = [
    kg.Gaussian(sigma=0.7),
    kg.RationalQuadratic(sigma=1.3, alpha=0.8),
    kg.Multiscale(sigmas=(0.3, 2.0), scale_weights=(0.2, 1.5)),
]


@pytest.mark.parametrize("kernel", SMOOTH_KERNELS, ids=lambda k: k.name)
def test_coefficients_match_theory_table_and_finite_differences(kernel):
    g_ref, g2_ref = oracles.smm_coefficients(kernel)
    np.testing.assert_allclose([kernel.g, kernel.g2], [g_ref, g2_ref], rtol=1e-13,
                               err_msg="closed forms, theory section 9")
    # kappa(t) = K(0, sqrt(2 t) e1): one-sided differences of order 2 in t, step h.
    h = 1e-4 * kernel.sigma**2

    def kappa(t):
        return oracles.kernel_value(kernel, [0.0], [np.sqrt(2 * t)])

    k0, k1, k2, k3 = (kappa(i * h) for i in range(4))
    d1 = (-3 * k0 + 4 * k1 - k2) / (2 * h)
    d2 = (2 * k0 - 5 * k1 + 4 * k2 - k3) / h**2
    # Truncation O(h^2 kappa''') and rounding eps / h^2 ~ 1e-8 relative for d2.
    np.testing.assert_allclose(kernel.g, -d1, rtol=1e-6, err_msg="finite differences")
    np.testing.assert_allclose(kernel.g2, d2, rtol=1e-4, err_msg="finite differences")


def test_laplacian_has_no_second_moment_model():
    lap = kg.Laplacian(sigma=1.0)
    with pytest.raises(ValueError, match="no second derivative at 0"):
        _ = lap.g2
    with pytest.raises(ValueError, match="no second derivative at 0"):
        kg.smm.run(lap, p=1.0, q=1.0, n=1, lam=0.5, gda=kg.GDA(0.1, 0.1), e0=[0.0],
                   cov0=[[0.0]], num_steps=3)


@pytest.mark.parametrize("mode", ["alternating", "simultaneous"])
@pytest.mark.parametrize("start", ["equilibrium", "zero"])
@pytest.mark.parametrize("kernel", SMOOTH_KERNELS, ids=lambda k: k.name)
def test_recursion_matches_points_propagated_one_by_one(rng, mode, start, kernel):
    n, d, num_steps = 5, 3, 25
    p, q, lam, eta_d, eta_g = 1.0, 0.23, 0.4, 0.3, 1.1   # delta = -0.15: excess mass
    y0 = 0.2 * kernel.sigma * rng.normal(size=(n, d)) + 0.05 * kernel.sigma
    g, g2 = oracles.smm_coefficients(kernel)
    c0 = g * (p - n * q) / lam if start == "equilibrium" else 0.0
    mean, cov, b, C = oracles.smm_points(g, g2, p, q, lam, eta_d, eta_g, mode, y0, num_steps, c0)
    gan = kg.KernelGAN([[0.0] * d], p, kernel, lam=lam)
    res = kg.smm.from_points(gan, kg.GDA(eta_d, eta_g, mode), y0, q, num_steps, start=start)
    # Same arithmetic in a different order: agreement to rounding (1e-10 relative to the scale).
    for name, got, want in (("e", res.e, mean), ("cov", res.cov, cov), ("b", res.b, b),
                            ("curvature", res.curvature, C)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max(),
                                   err_msg=f"{name}: per-point quadratic model")
    np.testing.assert_allclose(res.spread, np.trace(cov, axis1=1, axis2=2), rtol=1e-9)
    assert res.status is kg.status.Status.COMPLETED


@pytest.mark.parametrize("mode", ["alternating", "simultaneous"])
def test_diagonal_form_matches_full_form_in_a_rotated_basis(rng, mode):
    d = 3
    variances = np.array([0.04, 0.01, 0.002])
    rot, _ = np.linalg.qr(rng.normal(size=(d, d)))
    cov0 = rot @ np.diag(variances) @ rot.T
    kw = dict(p=1.0, q=0.12, n=10, lam=0.3, gda=kg.GDA(0.2, 1.5, mode), num_steps=400)
    kernel = kg.Gaussian(sigma=0.8)
    full = kg.smm.run(kernel, e0=np.zeros(d), cov0=cov0, **kw)
    diag = kg.smm.run_diagonal(kernel, variances0=variances, **kw)
    np.testing.assert_allclose(diag.spread, full.spread, rtol=1e-10, err_msg="trace of S")
    eig = np.linalg.eigvalsh(full.cov)                    # ascending; the variances may cross
    np.testing.assert_allclose(np.sort(diag.variance, axis=1), eig, rtol=1e-8, atol=1e-14,
                               err_msg="eigenvalues of S")
    curv = np.einsum("ij,kjl,li->ki", rot.T, full.curvature, rot)   # C in the principal basis
    np.testing.assert_allclose(diag.curvature, curv, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["alternating", "simultaneous"])
@pytest.mark.parametrize("q", [0.1, 0.09, 0.115])
def test_linear_model_is_the_isolated_points_model(rng, mode, q):
    n, d, sigma, lam, eta_d, eta_g = 10, 2, 0.9, 0.6, 0.2, 1.3
    res = kg.smm.run(kg.Gaussian(sigma), p=1.0, q=q, n=n, lam=lam, gda=kg.GDA(eta_d, eta_g, mode),
                     e0=0.01 * rng.normal(size=d), cov0=np.diag([1e-3, 4e-4]), num_steps=60)
    ev = kg.isolated.eigenvalues(p=1.0, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma,
                                 mode=mode)
    ratio = res.linear_spread[1:] / res.linear_spread[:-1]
    np.testing.assert_allclose(ratio, float(ev.rho_b) ** 2, rtol=1e-12,
                               err_msg="spread modes rho_b^2, theory section 5")
    tr, det = ev.rho_c.sum().real, np.prod(ev.rho_c).real
    e = res.linear_e
    np.testing.assert_allclose(e[2:], tr * e[1:-1] - det * e[:-2], rtol=0,
                               atol=1e-12 * np.abs(e).max(), err_msg="pair rho_c, theory section 5")


def test_stationary_spread_is_the_long_run_limit():
    sigma = 0.8  # not 1: g = 1/sigma^2 and g2 = 1/sigma^4 differ, so swapping them shows
    kernel = kg.Gaussian(sigma=sigma)
    for d in (1, 2, 3):
        kw = dict(p=1.0, q=0.11, n=10, lam=0.5, gda=kg.GDA(0.1, 1.0))
        res = kg.smm.run_diagonal(kernel, variances0=np.full(d, 0.005), num_steps=6000, **kw)
        want = kg.smm.stationary_spread(kernel, p=1.0, q=0.11, n=10, d=d)
        np.testing.assert_allclose(res.spread[-1], want, rtol=1e-6,
                                   err_msg="long run of the diagonal recursion")
        np.testing.assert_allclose(want, -d * (1 - 1.1) * sigma**2 / (1.1 * (1 + d / 2)), rtol=1e-12,
                                   err_msg="Gaussian closed form -d delta sigma^2 / (Q (1 + d/2)), "
                                           "theory section 9")
    assert np.isnan(kg.smm.stationary_spread(kernel, p=1.0, q=0.1, n=10, d=2))


@pytest.mark.parametrize("d", [1, 3])
def test_half_life_matches_a_quasi_static_run(d):
    kernel = kg.Gaussian(sigma=0.8)
    n, q, lam, eta_d, eta_g, r0 = 8, 1 / 8, 1.0, 0.5, 0.5, 1e-3
    k_half = kg.smm.half_life(kernel, p=1.0, q=q, n=n, d=d, lam=lam, eta_g=eta_g, spread0=d * r0)
    assert k_half > 100 / (eta_d * lam)          # deep in the quasi-static regime
    num = int(4 * k_half)
    res = kg.smm.run_diagonal(kernel, p=1.0, q=q, n=n, lam=lam, gda=kg.GDA(eta_d, eta_g),
                              variances0=np.full(d, r0), num_steps=num, start="equilibrium")
    k = np.arange(num + 1)
    # Relative error O(1 / (a k_half)) from the lag of the discriminator, plus O(eta_g q c).
    np.testing.assert_allclose(res.spread[10:], d * r0 / (1 + k[10:] / k_half), rtol=0.03,
                               err_msg="1/k law, theory section 9")
    assert np.isnan(kg.smm.half_life(kernel, p=1.0, q=0.1, n=8, d=d, lam=lam, eta_g=eta_g,
                                     spread0=0.01))


def test_fall_steps_match_the_point_oracle():
    kernel = kg.Gaussian(sigma=0.7)  # g = 1/sigma^2 != g2 = 1/sigma^4
    g, g2 = oracles.smm_coefficients(kernel)
    n, p, eta_d, eta_g = 4, 1.0, 0.2, 2.0
    lams = np.array([0.2, 0.8])
    y0 = np.array([[0.1, 0.0], [-0.1, 0.02], [0.05, -0.05], [0.0, 0.1]]) + [0.05, 0.0]
    gan = kg.KernelGAN([[0.0, 0.0]], p, kernel, lam=0.2)
    base = kg.smm.from_points(gan, kg.GDA(eta_d, eta_g), y0, 0.25, 0)
    smm_k, lin_k = kg.smm.fall_steps(kernel, p=p, q=0.25, n=n, lam=lams, gda=kg.GDA(eta_d, eta_g),
                                     e0=base.e[0], cov0=base.cov[0], num_steps=1500,
                                     factors=[1e3, 1e6])
    for i, lam in enumerate(lams):
        mean, cov, _, _ = oracles.smm_points(g, g2, p, 0.25, lam, eta_d, eta_g, "alternating", y0,
                                             1500, 0.0)
        w = np.trace(cov, axis1=1, axis2=2) + (mean**2).sum(1)
        for j, fac in enumerate((1e3, 1e6)):
            hit = np.nonzero(w <= w[0] / fac)[0]
            assert smm_k[i, j] == (hit[0] if hit.size else -1), "point oracle, first crossing"
    assert lin_k.shape == (2, 2)


def test_grid_cells_are_independent_runs(rng):
    kernel = kg.Gaussian(sigma=0.5)
    lams = np.array([[0.1, 0.5, 2.0]])
    e0 = 0.02 * rng.normal(size=(4, 1, 2))
    cov0 = np.eye(2) * 1e-3
    res = kg.smm.run(kernel, p=1.0, q=0.2, n=5, lam=lams, gda=kg.GDA(0.1, 0.5), e0=e0, cov0=cov0,
                     num_steps=30)
    assert res.e.shape == (4, 3, 31, 2) and res.cov.shape == (4, 3, 31, 2, 2)
    assert res.status.shape == (4, 3)
    g, g2 = oracles.smm_coefficients(kernel)
    # One cell against the point oracle started from points with that mean and covariance.
    pts = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [0.0, 0.0]]) * np.sqrt(2.5e-3)
    mean, cov, _, _ = oracles.smm_points(g, g2, 1.0, 0.2, 0.5, 0.1, 0.5, "alternating",
                                         pts + e0[2, 0], 30, 0.0)
    np.testing.assert_allclose(res.cov[2, 1], cov, rtol=1e-9, atol=1e-16)
    np.testing.assert_allclose(res.e[2, 1], mean, rtol=1e-9, atol=1e-16)


@pytest.mark.parametrize("bad, match", [
    (dict(gda=kg.GDA(0.1, 0.1, "extragradient")), "simultaneous and alternating"),
    (dict(lam=0.0, q=0.5), "no fixed point"),
    (dict(cov0=[[1.0, 0.0], [0.0, 1.0]]), "cov0 must have shape"),
    (dict(cov0=[[-1.0]]), "positive semidefinite"),
    (dict(start="middle"), "start must be one of"),
    (dict(n=2.5), "whole number"),
    (dict(q=-1.0), "q must be > 0"),
])
def test_bad_input_raises(bad, match):
    kw = dict(p=1.0, q=1.0, n=1, lam=0.5, gda=kg.GDA(0.1, 0.1), e0=[0.0], cov0=[[0.0]], num_steps=2)
    with pytest.raises(ValueError, match=match):
        kg.smm.run(kg.Gaussian(1.0), **(kw | bad))


def test_from_points_needs_one_true_point_and_equal_weights():
    two = kg.KernelGAN([[0.0], [1.0]], 1.0, kg.Gaussian(1.0), lam=0.5)
    with pytest.raises(ValueError, match="one true point"):
        kg.smm.from_points(two, kg.GDA(0.1, 0.1), [[0.1]], 1.0, 5)
    one = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), lam=0.5)
    with pytest.raises(ValueError, match="equal generated weights"):
        kg.smm.from_points(one, kg.GDA(0.1, 0.1), [[0.1], [0.2]], [0.3, 0.4], 5)


def test_from_points_accepts_the_simulate_starts(rng):
    sigma = 0.8
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma), lam=0.5)
    y0 = 0.05 * rng.normal(size=(6, 2))
    eq = kg.find_equilibrium(gan, np.zeros((6, 2)), 0.2)
    a = kg.smm.from_points(gan, kg.GDA(0.1, 1.0), y0, 0.2, 20, start=eq)
    b = kg.smm.from_points(gan, kg.GDA(0.1, 1.0), y0, 0.2, 20, start="equilibrium")
    c = kg.smm.from_points(gan, kg.GDA(0.1, 1.0), y0, 0.2, 20, start=None)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-14)
    np.testing.assert_allclose(c.curvature[0], 0.0, atol=0)
    np.testing.assert_allclose(b.curvature[0], -0.2 / sigma**2 / 0.5 * np.eye(2), rtol=1e-12,
                               err_msg="C0 = g delta / lam I with g = 1/sigma^2")


@pytest.mark.parametrize("mode", ["alternating", "simultaneous"])
def test_matched_mass_spread_follows_the_exact_dynamics(rng, mode):
    """Theory section 9: at matched mass the SMM follows the exact trace of S within ~12 %,
    while the linear model's spread stays put."""
    n, d, lam = 16, 2, 0.5
    y0 = 0.1 * rng.normal(size=(n, d))
    y0 -= y0.mean(0)
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(1.0), lam=lam)
    gda = kg.GDA(0.1, 2.0, mode)
    eq = kg.find_equilibrium(gan, np.zeros((n, d)), 1 / n)
    traj = kg.simulate(gan, gda, y0, 1 / n, 1000, start=eq, history_tol=1e-10)
    dev = traj.y - traj.y.mean(axis=1, keepdims=True)
    exact = (dev**2).sum(axis=(1, 2)) / n
    res = kg.smm.from_points(gan, gda, y0, 1 / n, 1000, start=eq)
    np.testing.assert_allclose(res.spread[[100, 1000]], exact[[100, 1000]], rtol=0.05,
                               err_msg="exact simulation")
    assert exact[1000] < 0.25 * exact[0]
    np.testing.assert_allclose(res.linear_spread, exact[0], rtol=1e-12)


def test_a_blow_up_is_reported_not_raised():
    # Simultaneous GDA at lam = delta = 0 diverges (theory section 5): det = 1 + c > 1.
    res = kg.smm.run(kg.Gaussian(0.1), p=1.0, q=1.0, n=1, lam=0.0, gda=kg.GDA(1.0, 1.0, "simultaneous"),
                     e0=[0.05, 0.0], cov0=np.zeros((2, 2)), num_steps=3000)
    assert res.status is kg.status.Status.DIVERGED
    assert "non-finite" in res.message
    smm_k, _ = kg.smm.fall_steps(kg.Gaussian(0.1), p=1.0, q=1.0, n=1, lam=[0.0, 0.0],
                                 gda=kg.GDA(1.0, 1.0, "simultaneous"), e0=[0.05, 0.0],
                                 cov0=np.zeros((2, 2)), num_steps=3000)
    assert (smm_k == -1).all()


def test_a_diverging_linear_model_gives_inf_without_a_warning():
    # Excess mass: rho_b = 1 - kappa = 1.022, the linear spread passes float64 within 20000 steps.
    res = kg.smm.run(kg.Gaussian(1.0), p=1.0, q=0.11, n=10, lam=0.5, gda=kg.GDA(0.1, 1.0),
                     e0=[0.01], cov0=[[1e-4]], num_steps=20000)
    assert np.isinf(res.linear_second_moment[-1]) or np.isnan(res.linear_second_moment[-1])
    assert np.isfinite(res.second_moment).all(), "the SMM saturates at its stationary spread"
