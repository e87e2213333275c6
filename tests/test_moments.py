"""The Gaussian-closure moment model (theory section 11) against independent oracles."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.bumps import bump_moments
from kernelgda.moments import Clusters, clusters_from_points, empirical_moments, gaussian_closure
from kernelgda.status import Status

from . import oracles as O

pytestmark = pytest.mark.usefixtures("strict_float")

MODES = ("alternating", "simultaneous")
MULTISCALE = kg.Multiscale(sigmas=(0.7, 2.0), scale_weights=(0.3, 1.0))


def _label(status):
    return status if isinstance(status, str) else status.label


def _random_spd(rng, d, scale):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.2 * np.eye(d))


def _point_clusters(y, q):
    y = np.asarray(y, dtype=float)
    return Clusters(y, np.zeros((len(y), y.shape[1], y.shape[1])), 1, q)


# -- bump moments ------------------------------------------------------------------------


def _random_bump(rng, d):
    return 0.7, rng.normal(size=d), np.linalg.inv(_random_spd(rng, d, 1.0))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_bump_moments_match_the_literal_formulas(rng, d):
    c, m, prec = _random_bump(rng, d)
    e, s = rng.normal(size=d), _random_spd(rng, d, 0.3)
    got = bump_moments(c, m, np.linalg.inv(prec), e, s)
    want = O.bump_moments_literal(c, m, prec, e, s)
    for g, w, name in zip(got, want, ("E[b]", "E[grad b]", "E[Hess b]"), strict=True):
        # Two algebraically equal forms (theory section 11): agree to rounding.
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-14, err_msg=f"{name}: literal formula")


@pytest.mark.parametrize("d", [1, 2])
def test_bump_moments_match_monte_carlo(rng, d):
    c, m, prec = _random_bump(rng, d)
    e, s = m + 0.8 * rng.normal(size=d), _random_spd(rng, d, 0.4)
    got = bump_moments(c, m, np.linalg.inv(prec), e, s)
    mc = O.monte_carlo_bump_moments(c, m, prec, e, s, 200_000, rng)
    for g, (mean, err), name in zip(got, mc, ("E[b]", "E[grad b]", "E[Hess b]"), strict=True):
        # Seeded sample of 2e5 draws: 5 standard errors leaves a false-alarm rate below 1e-6
        # per entry.
        np.testing.assert_array_less(np.abs(g - mean), 5 * err + 1e-12,
                                     err_msg=f"{name}: Monte Carlo average")


def test_bump_moments_are_derivatives_of_the_mean_value(rng):
    d = 2
    c, m, prec = _random_bump(rng, d)
    cov, s = np.linalg.inv(prec), _random_spd(rng, d, 0.3)
    e = m + 0.5 * rng.normal(size=d)
    _, grad, hess = bump_moments(c, m, cov, e, s)
    # E[b](e) = E_z b(e + z): its gradient in e is E[grad b], its Hessian E[Hess b].
    # Central differences, h = 1e-5: truncation ~1e-10, rounding ~1e-11.
    fd_grad = O.fd_gradient(lambda x: bump_moments(c, m, cov, x, s)[0], e, 1e-5)
    np.testing.assert_allclose(grad, fd_grad, rtol=1e-7, atol=1e-9, err_msg="finite differences")
    fd_hess = O.fd_jacobian(lambda x: bump_moments(c, m, cov, x, s)[1], e, 1e-5)
    np.testing.assert_allclose(hess, fd_hess, rtol=1e-7, atol=1e-9, err_msg="finite differences")


def test_bump_moments_reject_bad_covariances():
    with pytest.raises(ValueError, match="positive"):
        bump_moments(1.0, [0.0], [[-1.0]], [0.0], [[0.0]])


# -- clusters ------------------------------------------------------------------------------


def test_empirical_moments_match_numpy_cov(rng):
    y = rng.normal(size=(5, 9, 2))
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1])
    mean, cov = empirical_moments(y, labels)
    for j in range(3):
        pts = y[:, labels == j]
        np.testing.assert_allclose(mean[:, j], pts.mean(axis=1), rtol=1e-13, err_msg="np.mean")
        for t in range(5):
            np.testing.assert_allclose(cov[t, j], np.cov(pts[t].T, bias=True), rtol=1e-12,
                                       atol=1e-15, err_msg="np.cov(bias=True)")


def test_clusters_from_points_defaults_to_the_nearest_true_point():
    y = [[0.1, 0.0], [-0.1, 0.0], [3.1, 0.0], [2.9, 0.2], [3.0, -0.2]]
    c = clusters_from_points(y, 0.25, x_true=[[0.0, 0.0], [3.0, 0.0], [9.0, 9.0]])
    assert c.num_points.tolist() == [2, 3]
    np.testing.assert_allclose(c.mean, [[0.0, 0.0], [3.0, 0.0]], atol=1e-15)
    np.testing.assert_allclose(c.cov[0], [[0.01, 0.0], [0.0, 0.0]], atol=1e-15)
    np.testing.assert_allclose(c.mass, [0.5, 0.75], rtol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    ({"labels": None}, "labels or x_true"),
    ({"labels": [0, 0, 1], "q": [0.1, 0.2, 0.3]}, "equal inside each cluster"),
    ({"labels": [0, 2, 2]}, "every cluster"),
])
def test_clusters_from_points_rejects_bad_input(kwargs, match):
    args = {"y0": [[0.0], [1.0], [2.0]], "q": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        clusters_from_points(**args)


def test_clusters_reject_bad_covariances():
    with pytest.raises(ValueError, match="semidefinite"):
        Clusters([[0.0]], [[[-1.0]]], 3, 1.0)
    with pytest.raises(ValueError, match="symmetric"):
        Clusters([[0.0, 0.0]], [[[1.0, 0.5], [0.0, 1.0]]], 3, 1.0)
    with pytest.raises(ValueError, match="num_points"):
        Clusters([[0.0]], [[[1.0]]], 0, 1.0)


# -- the model -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("kernel", [kg.Gaussian(0.8), MULTISCALE], ids=["gaussian", "multiscale"])
@pytest.mark.parametrize("at_eq", [False, True], ids=["f0", "fstar"])
def test_point_clusters_are_the_exact_dynamics(rng, mode, d, kernel, at_eq):
    x = rng.normal(size=(2, d))
    gan = kg.KernelGAN(x, [1.0, 0.7], kernel, lam=0.1)
    q = np.array([0.5, 0.4, 0.3])
    y0 = x[[0, 1, 1]] + 0.3 * rng.normal(size=(3, d))
    gda = kg.GDA(0.1, 0.2, mode)
    eq = kg.find_equilibrium(gan, x[[0, 1, 1]], q) if at_eq else None
    exact = kg.simulate(gan, gda, y0, q, 150, start=eq)
    run = gaussian_closure(gan, gda, _point_clusters(y0, q), 150, start=eq)
    # One-point clusters (S = 0) make every bump a kernel section (theory section 11): the
    # same dynamics, different summation order; rounding grows to ~1e-13 over 150 steps.
    np.testing.assert_allclose(run.mean, exact.y, rtol=0, atol=1e-10, err_msg="kg.simulate")
    assert np.all(run.cov == 0) and np.all(run.spread == 0)
    assert run.status is Status.COMPLETED


@pytest.mark.parametrize("mode", MODES)
def test_point_clusters_are_the_exact_dynamics_without_regularization(mode):
    # lam = 0: no decay, f* = 0 at a perfect match (theory section 3).
    x = np.array([[0.0], [1.0]])
    gan = kg.KernelGAN(x, [0.5, 0.5], kg.Gaussian(0.7), lam=0.0)
    eq = kg.find_equilibrium(gan, x, [0.5, 0.5])
    y0 = [[0.2], [0.7]]
    gda = kg.GDA(0.2, 0.5, mode)
    exact = kg.simulate(gan, gda, y0, 0.5, 100, start=eq)
    run = gaussian_closure(gan, gda, _point_clusters(y0, 0.5), 100, start=eq)
    np.testing.assert_allclose(run.mean, exact.y, rtol=0, atol=1e-11, err_msg="kg.simulate")


def test_divergence_is_reported_like_the_exact_dynamics():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), lam=0.1)
    gda = kg.GDA(1.0, 5.0, "simultaneous")
    exact = kg.simulate(gan, gda, [[0.5]], 1.0, 100, divergence_bound=5.0)
    run = gaussian_closure(gan, gda, _point_clusters([[0.5]], 1.0), 100, divergence_bound=5.0)
    assert _label(exact.status) == "diverged"
    assert run.status is Status.DIVERGED and run.num_steps == exact.num_steps
    assert run.mean.shape == (exact.num_steps + 1, 1, 1) and "diverged at step" in run.message
    np.testing.assert_allclose(run.mean[:, :, 0], exact.y[:, :, 0], rtol=1e-12, err_msg="kg.simulate")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", [kg.Gaussian(0.9), MULTISCALE], ids=["gaussian", "multiscale"])
def test_clouds_match_the_bump_by_bump_oracle(rng, mode, kernel):
    d = 2
    x = np.array([[0.0, 0.0], [1.5, 0.0]])
    gan = kg.KernelGAN(x, [1.0, 0.8], kernel, lam=0.3)
    gda = kg.GDA(0.2, 0.4, mode)
    mean0 = x + 0.4 * rng.normal(size=(2, d))
    cov0 = np.stack([_random_spd(rng, d, 0.05), _random_spd(rng, d, 0.1)])
    q = np.array([0.2, 0.15])
    run = gaussian_closure(gan, gda, Clusters(mean0, cov0, [4, 6], q), 12)
    scales = [(kernel.sigma, 1.0)] if kernel.name == "gaussian" else list(
        zip(kernel.sigmas, kernel.scale_weights, strict=True))
    # The oracle keeps a multiscale kernel as its single-scale Gaussians, one bump each,
    # with the (c, m, P) formulas of theory section 11.
    mean, cov = O.naive_gaussian_closure(scales, x, gan.p_true, gan.lam, gda.eta_d, gda.eta_g,
                                         mode, mean0, cov0, [4, 6], q, 12)
    np.testing.assert_allclose(run.mean, mean, rtol=1e-11, atol=1e-13, err_msg="bump-by-bump oracle")
    np.testing.assert_allclose(run.cov, cov, rtol=1e-10, atol=1e-14, err_msg="bump-by-bump oracle")
    np.testing.assert_allclose(run.spread, np.trace(cov, axis1=2, axis2=3), rtol=1e-10)


def test_multiscale_first_step_is_the_sum_of_its_scales(rng):
    # From f0 = 0 the first alternating mean step is linear in the kernel.
    x = np.array([[0.0, 0.0]])
    cl = Clusters([[0.3, -0.2]], [_random_spd(rng, 2, 0.05)], 5, 0.2)
    gda = kg.GDA(0.3, 0.5, "alternating")
    step = gaussian_closure(kg.KernelGAN(x, 1.0, MULTISCALE, 0.2), gda, cl, 1).mean[1] - cl.mean
    parts = sum(w * (gaussian_closure(kg.KernelGAN(x, 1.0, kg.Gaussian(s), 0.2), gda, cl, 1).mean[1]
                     - cl.mean)
                for s, w in zip(MULTISCALE.sigmas, MULTISCALE.scale_weights, strict=True))
    np.testing.assert_allclose(step, parts, rtol=1e-12, err_msg="sum of single-scale bumps")


def _smm_errors(kernel, mode, eps, offset, num_steps):
    """Closure against the SMM (theory section 9) and the linear model, one true point."""
    g = kernel.curvature
    g2 = (1 / kernel.sigma**4 if kernel.name == "gaussian"
          else sum(w / s**4 for s, w in zip(kernel.sigmas, kernel.scale_weights, strict=True)))
    s0 = eps**2 * np.array([[0.5, 0.1], [0.1, 0.3]])
    e0 = eps * np.asarray(offset)
    lam, eta_d, eta_g, num, q = 0.2, 0.2, 0.5, 4, 0.25
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kernel, lam)
    run = gaussian_closure(gan, kg.GDA(eta_d, eta_g, mode), Clusters([e0], [s0], num, q), num_steps)
    out = []
    for gg2 in (g2, 0.0):  # SMM, then the linear model (no g2 terms)
        e, s = O.smm_recursion(g, gg2, 1.0, num * q, q, lam, eta_d, eta_g, mode, e0, s0, num_steps)
        out.append((np.abs(run.mean[-1, 0] - e[-1]).max() / eps,
                    np.abs(run.cov[-1, 0] - s[-1]).max() / eps**2))
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", [kg.Gaussian(1.0), MULTISCALE], ids=["gaussian", "multiscale"])
def test_second_order_truncation_is_the_smm(mode, kernel):
    # Centred cloud of size eps, matched mass, 5 steps: the closure keeps the g2 terms of
    # the SMM (relative spread error O(eps^4): x16 per halving) that the linear model lacks
    # (O(eps^2): x4).
    (smm1, lin1), (smm2, lin2) = (_smm_errors(kernel, mode, eps, [0.0, 0.0], 5)
                                  for eps in (0.1, 0.05))
    assert smm1[1] / smm2[1] > 12, "SMM spread error must be fourth order (theory section 9)"
    assert 3 < lin1[1] / lin2[1] < 5, "linear-model spread error is second order"
    assert smm2[1] < 0.05 * lin2[1]


def test_offset_clouds_agree_with_the_smm_to_second_order():
    # Off-centre: the SMM drops third-order terms (theory section 9), so the relative
    # mean error falls like eps^2.
    errs = [_smm_errors(kg.Gaussian(1.0), "alternating", eps, [0.6, -0.3], 20)[0][0]
            for eps in (0.1, 0.05)]
    assert 3 < errs[0] / errs[1] < 6 and errs[1] < 1e-3  # x4 per halving, not x2 or x8


def test_truncation_certifies_and_bounds_the_history(rng):
    x = np.array([[0.0, 0.0], [1.0, 0.5]])
    gan = kg.KernelGAN(x, 1.0, kg.Gaussian(0.8), lam=0.5)
    gda = kg.GDA(0.2, 0.3, "alternating")
    q = np.array([0.5, 0.5, 0.7])
    y0 = x[[0, 0, 1]] + 0.2 * rng.normal(size=(3, 2))
    exact = kg.simulate(gan, gda, y0, q, 600, history_tol=1e-8)
    run = gaussian_closure(gan, gda, _point_clusters(y0, q), 600, history_tol=1e-8)
    # Same truncation rule as the exact discriminator (theory section 2): same bound, same run.
    np.testing.assert_allclose(run.truncation_bound, exact.truncation_bound, rtol=1e-9,
                               err_msg="kg.simulate(history_tol=...)")
    np.testing.assert_allclose(run.mean, exact.y, atol=1e-10, err_msg="kg.simulate")
    full = gaussian_closure(gan, gda, _point_clusters(y0, q), 600)
    assert 0 < run.truncation_bound < 1e-6
    np.testing.assert_allclose(run.mean, full.mean, atol=1e-6, err_msg="full history")
    # The kept window, about log(eps lam) / log(1 - eta_d lam) ~ 190 steps, does not grow.
    longer = gaussian_closure(gan, gda, _point_clusters(y0, q), 1200, history_tol=1e-8)
    assert run.num_bumps < full.num_bumps and longer.num_bumps <= run.num_bumps + 3


@pytest.mark.parametrize("kwargs, match", [
    ({"gan": kg.KernelGAN([[0.0]], 1.0, kg.RationalQuadratic(1.0), 0.1)}, "Gaussian or Multiscale"),
    ({"gan": kg.KernelGAN([[0.0]], 1.0, kg.Laplacian(1.0), 0.1)}, "Gaussian or Multiscale"),
    ({"gda": kg.GDA(0.1, 0.1, "extragradient")}, "simultaneous"),
    ({"clusters": "points"}, "Clusters"),
    ({"history_tol": 2.0}, "history_tol"),
    ({"start": object()}, "Equilibrium"),
])
def test_gaussian_closure_rejects_bad_input(kwargs, match):
    args = {"gan": kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), 0.1), "gda": kg.GDA(0.1, 0.1),
            "clusters": Clusters([[0.1]], [[[0.01]]], 4, 0.25), "num_steps": 3} | kwargs
    with pytest.raises(ValueError, match=match):
        gaussian_closure(**args)


# -- many cells at once --------------------------------------------------------------------


def test_batch_equals_single_runs_cell_by_cell(rng):
    x = np.array([[0.0, 0.0], [1.5, 0.0]])
    kernels = [kg.Gaussian(0.6), MULTISCALE, kg.Gaussian(1.2)]
    gans = [kg.KernelGAN(x, [1.0, 0.8], k, lam) for k, lam in zip(kernels, (0.3, 0.5, 0.1), strict=True)]
    gdas = [kg.GDA(0.2, 0.4), kg.GDA(0.1, 0.5), kg.GDA(0.3, 0.2)]
    clusters = [Clusters(x + 0.3 * rng.normal(size=(2, 2)),
                         np.stack([_random_spd(rng, 2, 0.02), _random_spd(rng, 2, 0.05)]), [4, 6],
                         [0.2, 0.15]) for _ in range(3)]
    batch = kg.moments.gaussian_closure_batch(gans, gdas, clusters, 80, history_tol=1e-6)
    for b in range(3):
        one = gaussian_closure(gans[b], gdas[b], clusters[b], 80, history_tol=1e-6)
        # Same arithmetic per cell; a cell may keep a few more history slices than alone
        # (truncation waits for every cell), each within its certified bound.
        np.testing.assert_allclose(batch.mean[b], one.mean, rtol=0, atol=1e-8, err_msg="single run")
        np.testing.assert_allclose(batch.cov[b], one.cov, rtol=0, atol=1e-8, err_msg="single run")
        assert batch.status[b] is one.status and batch.truncation_bound[b] <= one.truncation_bound
    assert batch.spread.shape == (3, 81, 2) and len(batch) == 3


def test_batch_reports_a_diverged_cell_and_keeps_the_others():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), lam=0.1)
    gdas = [kg.GDA(1.0, 5.0, "simultaneous"), kg.GDA(0.1, 0.1, "simultaneous")]
    cl = _point_clusters([[0.5]], 1.0)
    batch = kg.moments.gaussian_closure_batch(gan, gdas, cl, 60, divergence_bound=5.0)
    exact = [kg.simulate(gan, g, [[0.5]], 1.0, 60, divergence_bound=5.0) for g in gdas]
    assert [s.label for s in batch.status] == [_label(t.status) for t in exact] == ["diverged", "completed"]
    assert batch.num_taken.tolist() == [t.num_steps for t in exact]
    taken = batch.num_taken[0]
    np.testing.assert_allclose(batch.mean[0, :taken + 1, :, 0], exact[0].y[:, :, 0], rtol=1e-12)
    assert np.isnan(batch.mean[0, taken + 1:]).all()
    np.testing.assert_allclose(batch.mean[1, :, :, 0], exact[1].y[:, :, 0], rtol=0, atol=1e-12,
                               err_msg="kg.simulate")


def test_batch_rejects_cells_of_different_shapes():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), 0.1)
    cls = [Clusters([[0.1]], [[[0.01]]], 4, 0.25), Clusters([[0.1], [0.2]], np.zeros((2, 1, 1)), 1, 1.0)]
    with pytest.raises(ValueError, match="share"):
        kg.moments.gaussian_closure_batch(gan, kg.GDA(0.1, 0.1), cls, 3)
    with pytest.raises(ValueError, match="one length"):
        kg.moments.gaussian_closure_batch([gan] * 3, [kg.GDA(0.1, 0.1)] * 2, cls[0], 3)
