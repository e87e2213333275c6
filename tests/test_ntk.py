"""Two-layer network kernels (theory section 13): the analytic NTK, the erf NNGP, the empirical
tangent kernel of a finite network.

Oracles: Monte Carlo over wide random networks drawn here (mean over independent neurons with
its standard error), central finite differences of values and gradients, and the tangent kernel
as the dot product of finite-difference parameter gradients of a network written out here.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

import kernelgda as kg

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

SMOOTH = [kg.NTK("erf", 1.3, 0.5), kg.NTK("erf", 1.0, 0.0), kg.ErfNNGP(0.8, 0.3),
          kg.EmpiricalNTK(width=64, activation="erf", sigma_w=1.0, sigma_b=0.5, seed=1)]
ALL = SMOOTH + [kg.NTK("relu", 1.0, 0.5), kg.EmpiricalNTK(64, "relu", 1.2, 0.4, seed=2)]


def _ids(k):
    return f"{k.name}-{getattr(k, 'activation', 'erf')}-{k.sigma_b}"


def _phi(act, z):
    return erf(z) if act == "erf" else np.maximum(z, 0.0)


def _dphi(act, z):
    return 2 / np.sqrt(np.pi) * np.exp(-z * z) if act == "erf" else (z > 0).astype(float)


def _per_neuron(act, w, b, a, u, v, ntk=True):
    """Contribution of each neuron to the tangent kernel at ``(u, v)`` (theory section 13)."""
    zu, zv = w @ u + b, w @ v + b
    out = _phi(act, zu) * _phi(act, zv)
    if ntk:
        out = out + a * a * _dphi(act, zu) * _dphi(act, zv) * (u @ v + 1.0)
    return out


@pytest.mark.parametrize(("kernel", "ntk"), [(kg.NTK("erf", 1.0, 0.5), True),
                                             (kg.NTK("relu", 1.2, 0.7), True),
                                             (kg.ErfNNGP(0.9, 0.4), False), (kg.NTK("erf", 1.5, 0.0), True)],
                         ids=["erf", "relu", "erf-nngp", "erf-nobias"])
def test_analytic_kernel_matches_monte_carlo_over_random_networks(kernel, ntk, rng):
    d, num = 2, 400_000
    w = rng.normal(size=(num, d)) * kernel.sigma_w
    b = rng.normal(size=num) * kernel.sigma_b
    a = rng.normal(size=num)
    act = getattr(kernel, "activation", "erf")
    pts = np.array([[0.3, -0.2], [1.0, 0.5], [-0.7, 0.1]])
    for u in pts:
        for v in pts:
            c = _per_neuron(act, w, b, a, u, v, ntk)
            se = c.std() / np.sqrt(num)
            got = kernel(u[None], v[None])[0, 0]
            assert abs(got - c.mean()) < 5 * se + 1e-12, \
                f"{kernel.name} at {u}, {v}: {got} vs Monte Carlo {c.mean()} +- {se} (5 standard errors)"


@pytest.mark.parametrize("kernel", ALL, ids=_ids)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_gradient_matches_finite_differences(kernel, d, rng):
    y, z = rng.normal(size=(3, d)) * 0.7, rng.normal(size=(4, d)) * 0.7
    got = kernel.grad(y, z)
    for a in range(3):
        for c in range(4):
            fd = oracles.fd_jacobian(lambda x, c=c: kernel(x[None], z[c:c + 1])[0, 0], y[a], 1e-6)
            np.testing.assert_allclose(got[a, c], fd.ravel(), rtol=1e-7, atol=1e-8,
                                       err_msg="gradient vs central finite differences of the value")


@pytest.mark.parametrize("kernel", SMOOTH, ids=_ids)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_second_derivatives_match_finite_differences(kernel, d, rng):
    y, z = rng.normal(size=(2, d)) * 0.7, rng.normal(size=(3, d)) * 0.7
    z[0] = y[0]  # coincident points, where linearization evaluates them
    hess, mixed = kernel.hessian(y, z), kernel.mixed(y, z)
    for a in range(2):
        for c in range(3):
            fd_h = oracles.fd_jacobian(lambda x, c=c: kernel.grad(x[None], z[c:c + 1])[0, 0], y[a], 1e-6)
            fd_m = oracles.fd_jacobian(lambda x, a=a: kernel.grad(y[a:a + 1], x[None])[0, 0], z[c], 1e-6)
            np.testing.assert_allclose(hess[a, c], fd_h, rtol=1e-7, atol=1e-8,
                                       err_msg="Hessian in u vs finite differences of the gradient")
            np.testing.assert_allclose(mixed[a, c], fd_m, rtol=1e-7, atol=1e-8,
                                       err_msg="d_u d_v^T vs finite differences of the gradient in v")


def _network(theta, u, h, d, act):
    """``f(u) = (1/sqrt(h)) sum_r a_r phi(w_r . u + b_r)`` with ``theta = (a, W, b)`` flattened."""
    a, W, b = theta[:h], theta[h:h + h * d].reshape(h, d), theta[h + h * d:]
    return a @ _phi(act, W @ u + b) / np.sqrt(h)


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_empirical_kernel_is_the_dot_product_of_parameter_gradients(act, rng):
    h, d = 8, 2
    k = kg.EmpiricalNTK(width=h, activation=act, sigma_w=1.1, sigma_b=0.6, seed=4)
    a, W, b = k.parameters(d)
    theta = np.concatenate([a, W.ravel(), b])
    pts = rng.normal(size=(3, d))
    jac = np.array([oracles.fd_jacobian(lambda t, u=u: _network(t, u, h, d, act), theta, 1e-6).ravel()
                    for u in pts])
    np.testing.assert_allclose(k(pts, pts), jac @ jac.T, rtol=1e-7, atol=1e-8,
                               err_msg="Theta_h vs finite-difference parameter gradients of the network")
    assert np.allclose([_network(theta, u, h, d, act) for u in pts], 0.0, atol=1e-15), \
        "antisymmetric initialization: f = 0"


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_wide_empirical_kernel_tends_to_the_analytic_ntk(act):
    h, d = 1 << 16, 2
    emp = kg.EmpiricalNTK(width=h, activation=act, sigma_w=1.0, sigma_b=0.5, seed=7)
    pts = np.array([[0.3, -0.2], [1.0, 0.5]])
    a, W, b = emp.parameters(d)
    half = h // 2  # the second half repeats the first (antisymmetric pairs): h / 2 independent neurons
    got, want = emp(pts, pts), kg.NTK(act, 1.0, 0.5)(pts, pts)
    for i, u in enumerate(pts):
        for j, v in enumerate(pts):
            c = _per_neuron(act, W[:half], b[:half], a[:half], u, v)
            se = c.std() / np.sqrt(half)
            assert abs(got[i, j] - want[i, j]) < 5 * se, \
                f"empirical Theta_h {got[i, j]} vs analytic NTK {want[i, j]} (5 standard errors {5 * se:.2g})"


@pytest.mark.parametrize("kernel", ALL, ids=_ids)
def test_gram_matrix_is_symmetric_positive_semidefinite(kernel, rng):
    pts = rng.normal(size=(6, 2))
    K = kernel(pts, pts)
    np.testing.assert_allclose(K, K.T, rtol=1e-12, atol=1e-14, err_msg="Gram matrix symmetry")
    assert np.linalg.eigvalsh(K).min() > -1e-12 * np.abs(K).max(), "Gram matrix must be PSD"


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="activation"):
        kg.NTK("tanh")
    with pytest.raises(ValueError, match="sigma_w"):
        kg.NTK("erf", sigma_w=-1.0)
    with pytest.raises(ValueError, match="sigma_b"):
        kg.ErfNNGP(1.0, sigma_b=-0.5)
    with pytest.raises(ValueError, match="width"):
        kg.EmpiricalNTK(width=7)
    with pytest.raises(ValueError, match="origin"):
        kg.NTK("relu", 1.0, 0.0)([[0.0, 0.0]], [[1.0, 0.0]])
    assert kg.make_kernel("ntk", activation="erf", sigma_w=2.0) == kg.NTK("erf", 2.0, 0.0)


def test_relu_has_no_second_derivative_and_linearization_refuses_it():
    k = kg.NTK("relu", 1.0, 0.5)
    with pytest.raises(ValueError, match="cusp"):
        k.hessian([[0.1]], [[0.2]])
    gan = kg.KernelGAN([[0.3]], 1.0, k, lam=1.0)
    eq = kg.find_equilibrium(gan, gan.x_true, gan.p_true)
    with pytest.raises(ValueError, match="smooth kernel"):
        kg.linearize(gan, eq, kg.GDA(0.1, 0.1))


@pytest.mark.parametrize("kernel", [kg.NTK("erf", 1.0, 0.5), kg.ErfNNGP(), kg.EmpiricalNTK(16)],
                         ids=lambda k: k.name)
def test_radial_only_analyses_refuse_network_kernels(kernel):
    with pytest.raises(ValueError, match="not radial"):
        _ = kernel.curvature  # the isolated closed forms need gamma (theory section 5)
    with pytest.raises(ValueError, match="radial"):
        kg.smm.stationary_spread(kernel, p=1.0, q=1.0, n=1, d=1)
