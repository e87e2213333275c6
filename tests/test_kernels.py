"""Kernels against their formulas (theory section 1), finite differences and naive loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import kernelgda as kg
from kernelgda.kernels import make_kernel

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

SMOOTH = [
    kg.Gaussian(sigma=0.7),
    kg.RationalQuadratic(sigma=0.6, alpha=0.5),
    kg.RationalQuadratic(sigma=0.6, alpha=2.0),
    kg.RationalQuadratic(sigma=0.8, alpha=20.0),
    kg.Multiscale(sigmas=(0.4, 1.3), scale_weights=(1.0, 0.5)),
]
ALL = SMOOTH + [kg.Laplacian(sigma=0.9)]


def _ids(kernels):
    return [f"{k.name}-{i}" for i, k in enumerate(kernels)]


def _pairs(rng, d, sigma, num=5):
    """Random pairs at distances up to ~2 sigma, plus coincident pairs ``u = v``."""
    u = rng.normal(scale=sigma, size=(num, d))
    v = u + rng.normal(scale=sigma, size=(num, d))
    return np.concatenate([u, u[:2]]), np.concatenate([v, u[:2]])


@pytest.mark.parametrize("kernel", ALL, ids=_ids(ALL))
@pytest.mark.parametrize("d", [1, 3])
def test_values_match_formula(kernel, d, rng):
    u, v = _pairs(rng, d, kernel.sigma)
    got = kernel(u, v)
    want = np.array([[oracles.kernel_value(kernel, a, b) for b in v] for a in u])
    # Same formula evaluated two ways (the matrix-product distance loses ~eps |u|^2 / sigma^2).
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14,
                               err_msg="kernel value vs formula of theory section 1")


@pytest.mark.parametrize("kernel", SMOOTH, ids=_ids(SMOOTH))
@pytest.mark.parametrize("d", [1, 2, 3])
def test_grad_matches_finite_differences(kernel, d, rng):
    sigma = kernel.sigma
    u, v = _pairs(rng, d, sigma)
    got = kernel.grad(u, v)
    h = 1e-5 * sigma
    for a in range(u.shape[0]):
        for b in range(v.shape[0]):
            fd = oracles.fd_gradient(lambda x, b=b: oracles.kernel_value(kernel, x, v[b]), u[a], h)
            # Central differences: truncation (h/sigma)^2 ~ 1e-10 and rounding eps/h ~ 1e-11,
            # both relative to the gradient scale 1/sigma.
            np.testing.assert_allclose(got[a, b], fd, rtol=0, atol=1e-8 / sigma,
                                       err_msg=f"grad vs central finite differences, pair {a},{b}")
            np.testing.assert_allclose(got[a, b], oracles.kernel_grad_u(kernel, u[a], v[b]),
                                       rtol=1e-11, atol=1e-14 / sigma,
                                       err_msg="grad vs hand-derived formula")


@pytest.mark.parametrize("kernel", SMOOTH, ids=_ids(SMOOTH))
@pytest.mark.parametrize("d", [1, 2, 3])
def test_hessian_and_mixed_match_finite_differences(kernel, d, rng):
    sigma = kernel.sigma
    u, v = _pairs(rng, d, sigma)
    hess = kernel.hessian(u, v)
    mixed = kernel.mixed(u, v)
    h = 1e-5 * sigma
    for a in range(u.shape[0]):
        for b in range(v.shape[0]):
            fd_h = oracles.fd_jacobian(lambda x, b=b: oracles.kernel_grad_u(kernel, x, v[b]), u[a], h)
            fd_m = oracles.fd_jacobian(lambda x, a=a: oracles.kernel_grad_u(kernel, u[a], x), v[b], h)
            # Finite differences of the exact gradient: error ~1e-10 relative to 1/sigma^2.
            np.testing.assert_allclose(hess[a, b], fd_h, rtol=0, atol=1e-8 / sigma**2,
                                       err_msg=f"hessian vs finite differences, pair {a},{b}")
            np.testing.assert_allclose(mixed[a, b], fd_m, rtol=0, atol=1e-8 / sigma**2,
                                       err_msg=f"mixed vs finite differences, pair {a},{b}")


@pytest.mark.parametrize("kernel", SMOOTH, ids=_ids(SMOOTH))
def test_curvature_is_minus_hessian_at_zero(kernel, rng):
    u = rng.normal(size=(3, 2))
    hess = kernel.hessian(u, u)
    want = -kernel.curvature * np.eye(2)
    for a in range(3):
        np.testing.assert_allclose(hess[a, a], want, rtol=1e-13, atol=0,
                                   err_msg="hess_u K(u, u) = -gamma I (theory section 5)")
    # gamma from the formulas: 1/sigma^2 (Gaussian, rational quadratic), sum w_i / sigma_i^2.
    prm = kernel.params()
    gamma = (sum(w / s**2 for s, w in zip(prm["sigmas"], prm["scale_weights"], strict=True))
             if "sigmas" in prm else 1.0 / prm["sigma"] ** 2)
    np.testing.assert_allclose(kernel.curvature, gamma, rtol=1e-14, err_msg="closed-form curvature")


def test_laplacian_derivatives():
    k = kg.Laplacian(sigma=0.9)
    u = np.array([[0.3, -0.2], [1.1, 0.4]])
    v = np.array([[-0.5, 0.1], [0.2, 0.9]])
    g = k.grad(u, v)
    h = 1e-6
    for a in range(2):
        for b in range(2):
            fd = oracles.fd_gradient(lambda x, b=b: oracles.kernel_value(k, x, v[b]), u[a], h)
            # Away from u = v the kernel is smooth; FD error ~1e-10.
            np.testing.assert_allclose(g[a, b], fd, atol=1e-8, rtol=0,
                                       err_msg="Laplacian grad vs finite differences")
            fd_h = oracles.fd_jacobian(lambda x, b=b: oracles.kernel_grad_u(k, x, v[b]), u[a], h)
            np.testing.assert_allclose(k.hessian(u, v)[a, b], fd_h, atol=1e-7, rtol=0,
                                       err_msg="Laplacian hessian vs finite differences")
    # The symmetric subgradient 0 at u = v.
    np.testing.assert_array_equal(k.grad(u, u)[[0, 1], [0, 1]], 0.0)
    with pytest.raises(ValueError, match="not differentiable"):
        k.hessian(u, u)
    with pytest.raises(ValueError, match="not differentiable"):
        _ = k.curvature


@pytest.mark.parametrize("kernel", ALL, ids=_ids(ALL))
def test_gram_symmetric_psd(kernel, rng):
    z = rng.normal(scale=kernel.sigma, size=(40, 3))
    z[5] = z[4]  # a repeated point makes the Gram matrix singular but still PSD
    gram = kernel(z, z)
    # Symmetric to rounding, not bitwise: the matrix-product distances |u|^2 + |v|^2 - 2 u.v
    # take u.v from BLAS, whose (i, j) and (j, i) entries may be summed in different orders.
    # That costs ~d eps |z|^2 in the squared distance, ~d eps (|z| / sigma_min)^2 <~ 1e-13 in
    # the kernel value here (|z| <~ 3 sigma, sigma_min = 0.4 for the multiscale kernel).
    np.testing.assert_allclose(gram, gram.T, rtol=0, atol=1e-12 * np.abs(gram).max(),
                               err_msg="Gram matrix must be symmetric to rounding")
    ev = np.linalg.eigvalsh(gram)
    assert ev.min() >= -1e-12 * np.trace(gram), f"Gram matrix not PSD: min eigenvalue {ev.min()}"


@pytest.mark.parametrize("kernel", ALL, ids=_ids(ALL))
def test_sums_match_naive_loops(kernel, rng):
    y = rng.normal(size=(4, 2))
    z = np.concatenate([rng.normal(size=(6, 2)), y[:2]])  # two centres coincide with y
    w = rng.normal(size=8)
    # Matrix-product form vs double loop: the cancellation in |y|^2 + |z|^2 - 2 y.z costs
    # ~eps |y|^2 / sigma^2 relative; 1e-11 absolute is ~1e3 above it.
    np.testing.assert_allclose(kernel.grad_sum(y, z, w), oracles.naive_grad_sum(kernel, y, z, w),
                               rtol=1e-10, atol=1e-11, err_msg="grad_sum vs naive double loop")
    np.testing.assert_allclose(kernel.value_sum(y, z, w), oracles.naive_value_sum(kernel, y, z, w),
                               rtol=1e-10, atol=1e-12, err_msg="value_sum vs naive double loop")


@pytest.mark.parametrize("kernel", SMOOTH[:4], ids=_ids(SMOOTH[:4]))
def test_grad_bound_is_the_maximum(kernel):
    sigma = kernel.sigma

    def neg(r):
        return -np.linalg.norm(oracles.kernel_grad_u(kernel, np.array([r, 0.0]), np.zeros(2)))

    grid = np.linspace(0, 10 * sigma, 20001)
    r0 = grid[np.argmin([neg(r) for r in grid])]
    best = minimize_scalar(neg, bounds=(r0 - 1e-3 * sigma, r0 + 1e-3 * sigma), method="bounded",
                           options={"xatol": 1e-12})
    # The maximum is smooth, so the bounded Brent search finds it to ~eps^(1/2) in r,
    # i.e. ~eps in the value.
    np.testing.assert_allclose(kernel.grad_bound, -best.fun, rtol=1e-10,
                               err_msg="grad_bound vs numerical maximisation of |grad K|")


def test_grad_bound_multiscale_and_laplacian():
    k = kg.Multiscale(sigmas=(0.4, 1.3), scale_weights=(1.0, 0.5))
    r = np.linspace(0, 20, 200001)
    vals = [np.linalg.norm(oracles.kernel_grad_u(k, np.array([x]), np.zeros(1))) for x in r[::10]]
    # For a sum of scales grad_bound is the sum of the scales' maxima: an upper bound.
    assert k.grad_bound >= max(vals), "multiscale grad_bound must bound |grad K| (dense grid)"
    lap = kg.Laplacian(sigma=0.9)
    # sup |grad K| = 1/sigma, approached as |r| -> 0+.
    near = np.linalg.norm(oracles.kernel_grad_u(lap, np.array([1e-12]), np.zeros(1)))
    np.testing.assert_allclose(lap.grad_bound, near, rtol=1e-10, err_msg="Laplacian sup |grad K|")


def test_shapes_and_one_dimensional_input(rng):
    k = kg.Gaussian(sigma=1.0)
    u, v = rng.normal(size=(3, 2)), rng.normal(size=(5, 2))
    assert k(u, v).shape == (3, 5)
    assert k.grad(u, v).shape == (3, 5, 2)
    assert k.hessian(u, v).shape == (3, 5, 2, 2)
    assert k.mixed(u, v).shape == (3, 5, 2, 2)
    # A 1-d array is read as points in one dimension.
    np.testing.assert_allclose(k([0.0, 1.0], [0.0]), [[1.0], [math.exp(-0.5)]], rtol=1e-15)


@pytest.mark.parametrize("kernel", ALL, ids=_ids(ALL))
def test_params_round_trip(kernel):
    assert make_kernel(**kernel.params()) == kernel


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "wide", None, True])
@pytest.mark.parametrize("cls", [kg.Gaussian, kg.RationalQuadratic, kg.Laplacian])
def test_bad_sigma_raises(cls, bad):
    with pytest.raises(ValueError, match="sigma"):
        cls(sigma=bad)


@pytest.mark.parametrize("bad", [0.0, -2.0, float("nan"), float("inf")])
def test_bad_alpha_raises(bad):
    with pytest.raises(ValueError, match="alpha"):
        kg.RationalQuadratic(sigma=1.0, alpha=bad)


@pytest.mark.parametrize("kwargs, name", [
    ({"sigmas": ()}, "sigmas"), ({"sigmas": (1.0, -0.5)}, "sigmas"),
    ({"sigmas": (1.0, float("nan"))}, "sigmas"),
    ({"sigmas": (1.0, 2.0), "scale_weights": (1.0, -1.0)}, "scale_weights"),
    ({"sigmas": (1.0, 2.0), "scale_weights": (1.0,)}, "scale_weights"),
])
def test_bad_multiscale_raises(kwargs, name):
    with pytest.raises(ValueError, match=name):
        kg.Multiscale(**kwargs)


def test_bad_points_and_kinds_raise():
    k = kg.Gaussian(sigma=1.0)
    with pytest.raises(ValueError, match="v must have dimension"):
        k(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="u must contain only finite"):
        k.grad([[np.nan, 0.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="kernel kind"):
        make_kernel("cauchy", sigma=1.0)
    with pytest.raises(ValueError, match="bad parameters"):
        make_kernel("gaussian", width=1.0)


@pytest.mark.parametrize("kernel", SMOOTH + [kg.NNGP(depth=2, bias=0.3)],
                         ids=_ids(SMOOTH) + ["nngp"])
def test_pairwise_interface_shapes_and_symmetry(kernel, rng):
    """The fast pair_* methods have the documented shapes, and K(u, v) = K(v, u) gives
    d_u d_v^T K(u, v) = (d_u d_v^T K(v, u))^T (checked by symmetry, an identity of any kernel)."""
    y, z = rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    assert kernel.pair_value(y, z).shape == (3, 4)
    assert kernel.pair_grad(y, z).shape == (3, 4, 2)
    assert kernel.pair_hessian(y, z).shape == (3, 4, 2, 2)
    mixed = kernel.pair_mixed(y, z)
    np.testing.assert_allclose(mixed, kernel.pair_mixed(z, y).transpose(1, 0, 3, 2),
                               rtol=1e-12, atol=1e-14, err_msg="mixed derivative symmetry")
    if kernel.radial:
        np.testing.assert_array_equal(mixed, -kernel.pair_hessian(y, z))
