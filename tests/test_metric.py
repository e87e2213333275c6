"""The anisotropic Gaussian kernel and the learned-metric ("RFM") discriminator (theory section 13).

Oracles: the formula ``exp(-r^T M r / 2)`` evaluated pair by pair, the isotropic Gaussian kernel
(``M = I / sigma^2``), central finite differences, and a hand-written GDA loop over an explicit
list of kernel centres with the metric update written from its definition.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

M2 = np.array([[2.0, 0.6], [0.6, 0.5]])


def test_values_match_the_formula_and_the_isotropic_gaussian(rng):
    k = kg.AnisotropicGaussian(M2)
    y, z = rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    want = np.array([[np.exp(-0.5 * (a - b) @ M2 @ (a - b)) for b in z] for a in y])
    np.testing.assert_allclose(k(y, z), want, rtol=1e-13, err_msg="exp(-r^T M r / 2) pair by pair")
    iso, gauss = kg.AnisotropicGaussian(np.eye(2) / 0.7**2), kg.Gaussian(0.7)
    for name in ("__call__", "grad", "hessian", "mixed"):
        np.testing.assert_allclose(getattr(iso, name)(y, z), getattr(gauss, name)(y, z), rtol=1e-12,
                                   atol=1e-14, err_msg=f"M = I / sigma^2 vs the Gaussian kernel ({name})")


def test_derivatives_match_finite_differences(rng):
    k = kg.AnisotropicGaussian(M2)
    y, z = rng.normal(size=(2, 2)) * 0.6, rng.normal(size=(3, 2)) * 0.6
    z[0] = y[0]
    g, H, C = k.grad(y, z), k.hessian(y, z), k.mixed(y, z)
    for a in range(2):
        for c in range(3):
            fd = oracles.fd_jacobian(lambda u, c=c: k(u[None], z[c:c + 1])[0, 0], y[a], 1e-6).ravel()
            np.testing.assert_allclose(g[a, c], fd, rtol=1e-7, atol=1e-9,
                                       err_msg="gradient vs finite differences")
            fd_h = oracles.fd_jacobian(lambda u, c=c: k.grad(u[None], z[c:c + 1])[0, 0], y[a], 1e-6)
            np.testing.assert_allclose(H[a, c], fd_h, rtol=1e-7, atol=1e-9,
                                       err_msg="Hessian vs finite differences")
            fd_m = oracles.fd_jacobian(lambda v, a=a: k.grad(y[a:a + 1], v[None])[0, 0], z[c], 1e-6)
            np.testing.assert_allclose(C[a, c], fd_m, rtol=1e-7, atol=1e-9,
                                       err_msg="mixed vs finite differences")


def test_grad_sum_matches_the_naive_sum(rng):
    k = kg.AnisotropicGaussian(M2)
    y, z, w = rng.normal(size=(5, 2)) + 30.0, rng.normal(size=(7, 2)) + 30.0, rng.normal(size=7)
    want = np.array([sum(-w[c] * np.exp(-0.5 * (a - b) @ M2 @ (a - b)) * (M2 @ (a - b))
                         for c, b in enumerate(z)) for a in y])
    np.testing.assert_allclose(k.grad_sum(y, z, w), want, rtol=1e-10, atol=1e-13,
                               err_msg="kernel sum vs a loop over -w K M r")


def test_bad_metrics_are_refused():
    for bad, word in [([[1.0, 0.0], [0.5, 1.0]], "symmetric"), ([[1.0, 0.0], [0.0, -1.0]], "semidefinite"),
                      (np.zeros((2, 2)), "largest eigenvalue"), ([[np.nan]], "finite"),
                      ([1.0, 2.0], "square")]:
        with pytest.raises(ValueError, match=word):
            kg.AnisotropicGaussian(bad)
    with pytest.raises(ValueError, match="dimension"):
        kg.AnisotropicGaussian(M2)([[0.0]], [[1.0]])
    with pytest.raises(ValueError, match="not radial"):
        _ = kg.AnisotropicGaussian(M2).curvature


def test_linearization_with_an_isotropic_metric_is_the_gaussian_one():
    x = np.array([[0.0, 0.0], [1.0, 0.5]])
    gda = kg.GDA(0.2, 0.3)
    out = []
    for kernel in (kg.Gaussian(0.8), kg.AnisotropicGaussian(np.eye(2) / 0.64)):
        gan = kg.KernelGAN(x, 0.5, kernel, lam=0.4)
        eq = kg.find_equilibrium(gan, x, 0.45)
        out.append(np.sort_complex(kg.linearize(gan, eq, gda).eigenvalues))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-9, atol=1e-12,
                               err_msg="linearize with M = I / sigma^2 vs the Gaussian kernel")


def _naive_metric_run(x, p, M0, lam, eta_d, eta_g, y0, q, steps, every, normalize, mode):
    """GDA over an explicit list of centres; every ``every`` discriminator steps M <- positive part
    of mean grad f grad f^T at Y minus that at X (module docstring of discriminator/metric.py)."""
    M, centres, coefs = M0.copy(), [], []
    indefinite = 0

    def grad_f(u):
        return sum(c * -np.exp(-0.5 * (u - z) @ M @ (u - z)) * (M @ (u - z))
                   for z, c in zip(centres, coefs, strict=True))

    y, out = y0.copy(), [y0.copy()]
    for k in range(steps):
        g_old = np.array([grad_f(u) for u in y]) if centres else np.zeros_like(y)
        coefs = [(1 - eta_d * lam) * c for c in coefs]
        centres += list(x) + list(y)
        coefs += list(eta_d * p) + list(-eta_d * q)
        if (k + 1) % every == 0:
            gy, gx = np.array([grad_f(u) for u in y]), np.array([grad_f(u) for u in x])
            D = gy.T @ gy / len(y) - gx.T @ gx / len(x)
            e, v = np.linalg.eigh(D)
            indefinite += bool(e.min() < 0 < e.max())
            e = np.where(e > 1e-12 * np.abs(e).max(), e, 0.0)  # rounding-level eigenvalues: 0
            if e.max() > 1e-50:
                if normalize:
                    e = e * np.trace(M) / e.sum()
                M = (v * e) @ v.T
        g = g_old if mode == "simultaneous" else np.array([grad_f(u) for u in y])
        y = y + eta_g * q[:, None] * g
        out.append(y.copy())
    return np.array(out), indefinite


@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
@pytest.mark.parametrize("normalize", [False, True])
def test_learned_metric_run_matches_a_hand_written_loop(mode, normalize):
    x, p = np.array([[0.0, 0.0], [1.0, 0.3]]), np.array([0.5, 0.5])
    y0, q = np.array([[0.3, -0.4], [0.8, 0.9]]), np.array([0.5, 0.5])
    gan = kg.KernelGAN(x, p, kg.AnisotropicGaussian(M2), lam=0.3)
    gda = kg.GDA(0.3, 0.5, mode=mode)
    traj = kg.simulate(gan, gda, y0, q, num_steps=30,
                       discriminator=kg.LearnedMetric(every=4, normalize=normalize))
    want, indefinite = _naive_metric_run(x, p, M2, 0.3, 0.3, 0.5, y0, q, 30, 4, normalize, mode)
    assert indefinite > 0, "the run must meet an indefinite AGOP difference for the check to mean anything"
    np.testing.assert_allclose(traj.y, want, rtol=0, atol=1e-10,
                               err_msg="learned-metric run vs the hand-written loop over centres")


def test_a_metric_never_updated_is_the_exact_anisotropic_run():
    x, y0 = np.array([[0.0, 0.0], [1.0, 0.3]]), np.array([[0.2, -0.1], [0.9, 0.5]])
    gan = kg.KernelGAN(x, 0.5, kg.AnisotropicGaussian(M2), lam=0.3)
    exact = kg.simulate(gan, kg.GDA(0.3, 0.5), y0, 0.5, num_steps=40)
    never = kg.simulate(gan, kg.GDA(0.3, 0.5), y0, 0.5, num_steps=40,
                        discriminator=kg.LearnedMetric(every=1000))
    np.testing.assert_allclose(never.y, exact.y, rtol=0, atol=1e-12,
                               err_msg="no update: the exact expansion of the fixed kernel")
    np.testing.assert_allclose(never.kernel_movement, 0.0, atol=0, err_msg="no update, no movement")


def test_learned_metric_refusals():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.NTK("erf"), lam=1.0)
    with pytest.raises(ValueError, match="AnisotropicGaussian"):
        kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, num_steps=2, discriminator=kg.LearnedMetric())
    with pytest.raises(ValueError, match="momentum"):
        kg.simulate(gan.with_kernel(kg.Gaussian(1.0)), kg.GDA(0.1, 0.1, mode="momentum"), [[0.1]], 1.0,
                    num_steps=2, discriminator=kg.LearnedMetric())
    with pytest.raises(ValueError, match="every"):
        kg.LearnedMetric(every=0)
