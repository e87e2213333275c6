"""Update rules beyond GDA (theory section 8): step matrices, mu maps, stability regions."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.linearize import reduced_blocks
from kernelgda.rules import (
    MU_RULES,
    field_matrix,
    in_stability_region,
    stability_region,
    step_matrix,
    z_of_mu,
)

SIMULATED = ("simultaneous", "alternating", "extragradient", "optimistic", "momentum")


def _rule_kwargs(mode, rng):
    if mode == "momentum":
        return {"beta": float(rng.uniform(-0.8, 0.8))}
    if mode == "alternating":
        return {"d_steps": int(rng.integers(1, 4))}
    return {}


def _random_blocks(rng, n=2, d=2):
    """Blocks of a non-isolated configuration (true points closer than sigma)."""
    x = rng.normal(size=(n, d)) * 0.3
    gan = kg.KernelGAN(x, rng.uniform(0.5, 1.5, n), kg.Gaussian(0.5), lam=0.7)
    eq = kg.find_equilibrium(gan, x, gan.p_true * rng.uniform(0.8, 1.2, n))
    assert eq.converged
    return gan, eq, reduced_blocks(gan, eq.y, eq.q)[2]


@pytest.mark.parametrize("mode", MU_RULES)
def test_step_eigenvalues_are_mu_maps(rng, mode):
    # Oracle: the eigenvalues of the assembled step matrix, general (non-isolated) configuration.
    gan, _, blocks = _random_blocks(rng)
    beta = 0.3 if mode == "momentum" else 0.0
    M = field_matrix(gan.lam, 0.05, 0.2, blocks)
    mu = np.linalg.eigvals(M)
    predicted = z_of_mu(mu, mode, beta).ravel()
    actual = np.linalg.eigvals(step_matrix(gan.lam, 0.05, 0.2, blocks, mode, beta=beta))
    # Each eigenvalue of the step must be one of the mapped mu (eigensolver accuracy ~1e-12).
    for z in actual:
        assert np.min(np.abs(predicted - z)) < 1e-9, f"{mode}: {z} not a mapped field eigenvalue"
    assert actual.size == predicted.size


def test_alternating_step_matrix_is_section4_jacobian(rng):
    # Oracle: J_alt written out in theory section 4 (d_steps = 1 is alternating GDA).
    gan, eq, blocks = _random_blocks(rng)
    C, H, Q, Pb = blocks["C"], blocks["H"], blocks["Q"], blocks["Pb"]
    ed, eg, a = 0.05, 0.2, 0.05 * gan.lam
    top = np.hstack([(1 - a) * np.eye(C.shape[0]), -ed * C @ Q])
    bottom = np.hstack([eg * (1 - a) * Q @ Pb,
                        np.eye(Q.shape[0]) + eg * Q @ H - ed * eg * Q @ Pb @ C @ Q])
    np.testing.assert_allclose(step_matrix(gan.lam, ed, eg, blocks, "alternating"),
                               np.vstack([top, bottom]), rtol=0, atol=1e-13)


@pytest.mark.parametrize("mode", SIMULATED)
def test_isolated_closed_forms_equal_general_jacobian(rng, mode):
    for _ in range(20):
        n, d = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        p, lam, sigma = rng.uniform(0.5, 2), rng.uniform(0.05, 2), rng.uniform(0.1, 2)
        q = p / n * rng.uniform(0.5, 1.5)
        ed, eg = rng.uniform(0.001, 0.3), rng.uniform(0.001, 0.3)
        kw = _rule_kwargs(mode, rng)
        gan = kg.KernelGAN(np.zeros((1, d)), p, kg.Gaussian(sigma), lam)
        eq = kg.find_equilibrium(gan, np.zeros((n, d)), q)
        lin = kg.linearize(gan, eq, kg.GDA(ed, eg, mode, **kw))
        r = kg.isolated.eigenvalues(p=p, q=q, n=n, eta_d=ed, eta_g=eg, lam=lam, sigma=sigma,
                                    mode=mode, **kw)
        # Closed forms vs eigensolver on a matrix of norm ~1: agreement to ~1e-12, allow 1e-9.
        np.testing.assert_allclose(r.generator_rate, lin.generator_rate, rtol=0, atol=1e-9,
                                   err_msg=f"{mode} {kw}: closed form vs general Jacobian")
        np.testing.assert_allclose(r.spectral_radius, lin.spectral_radius, rtol=0, atol=1e-9)
        for z in np.ravel(r.rho_c):
            assert np.min(np.abs(lin.eigenvalues - z)) < 1e-8


def test_d_steps_one_is_alternating_and_beta_zero_momentum_is_simultaneous(rng):
    gan, eq, _ = _random_blocks(rng)
    e0 = rng.normal(size=eq.y.shape) * 1e-7
    alt = kg.simulate(gan, kg.GDA(0.05, 0.2, "alternating"), eq.y + e0, eq.q, 50, start=eq)
    alt1 = kg.simulate(gan, kg.GDA(0.05, 0.2, "alternating", d_steps=1), eq.y + e0, eq.q, 50,
                       start=eq)
    np.testing.assert_array_equal(alt.y, alt1.y)
    sim = kg.simulate(gan, kg.GDA(0.05, 0.2, "simultaneous"), eq.y + e0, eq.q, 50, start=eq)
    mom = kg.simulate(gan, kg.GDA(0.05, 0.2, "momentum", beta=0.0), eq.y + e0, eq.q, 50, start=eq)
    # Same arithmetic up to the order of additions in the momentum buffer: 1e-13 relative.
    np.testing.assert_allclose(mom.y, sim.y, rtol=1e-13, atol=1e-15)
    lin_s = kg.linearize(gan, eq, kg.GDA(0.05, 0.2, "simultaneous"))
    lin_m = kg.linearize(gan, eq, kg.GDA(0.05, 0.2, "momentum", beta=0.0))
    np.testing.assert_allclose(lin_m.generator_rate, lin_s.generator_rate, atol=1e-12)


@pytest.mark.parametrize("mode", SIMULATED)
def test_simulation_follows_jacobian_and_measured_rate(rng, mode):
    kw = _rule_kwargs(mode, rng)
    for sep in (0.4, 6.0):  # overlapping and isolated true points
        gan = kg.KernelGAN([[0.0], [sep]], [1.0, 1.0], kg.Gaussian(0.5), 0.5)
        eq = kg.find_equilibrium(gan, [[0.0], [sep]], [1.0, 0.9])
        gda = kg.GDA(0.1, 0.2, mode, **kw)
        lin = kg.linearize(gan, eq, gda)
        e0 = rng.normal(size=eq.y.shape)
        e0 *= 1e-6 * 0.5 / np.linalg.norm(e0)
        traj = kg.simulate(gan, gda, eq.y + e0, eq.q, 1500, start=eq)
        # While |e| <= 1e-4 sigma the nonlinear terms are below ~|e|/sigma ~ 1e-4 of |e|: compare
        # up to the step where the linear prediction grows past 100 |e0| (divergent cases).
        pred = lin.iterate(e0, 60)
        size = np.abs(pred).reshape(61, -1).max(axis=1)
        k = int(np.argmax(size > 100 * np.abs(e0).max())) or 61
        np.testing.assert_allclose(traj.y[:k] - eq.y, pred[:k], rtol=0, atol=1e-4 * size[:k].max(),
                                   err_msg=f"{mode}: exact run vs iterating the Jacobian")
        # Measured vs predicted generator-visible rate (theory section 4 "measure").
        # (the run stays linear: ~1e-6 achieved; 1e-5 demanded)
        assert abs(traj.rate(eq.y) - lin.generator_rate) < 1e-5, f"{mode} sep={sep}"


@pytest.mark.slow  # ~1.5-3.5 s
def test_bilinear_limit_known_facts():
    # lam = 0, delta = 0: simultaneous diverges, extragradient / optimistic converge for small
    # steps, alternating cycles (theory sections 5 and 8).
    args = dict(p=1.0, q=1.0, n=1, eta_d=0.05, eta_g=0.05, lam=0.0, sigma=1.0)
    assert kg.isolated.eigenvalues(mode="simultaneous", **args).regime == "divergent"
    assert kg.isolated.eigenvalues(mode="alternating", **args).regime == "cycling"
    assert kg.isolated.eigenvalues(mode="extragradient", **args).generator_rate < 1
    assert kg.isolated.eigenvalues(mode="optimistic", **args).generator_rate < 1
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), lam=0.0)
    eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
    for mode, expect in [("simultaneous", "divergent"), ("alternating", "cycling"),
                         ("extragradient", "oscillatory"), ("optimistic", "oscillatory")]:
        assert kg.linearize(gan, eq, kg.GDA(0.05, 0.05, mode)).regime == expect, mode
        traj = kg.simulate(gan, kg.GDA(0.05, 0.05, mode), [[1e-3]], 1.0, 4000, start=eq)
        dist = traj.distance([[0.0]])
        grows, shrinks = dist[-1] > 2 * dist[0], dist[-1] < 0.5 * dist[0]
        assert {"divergent": grows, "cycling": not grows and not shrinks,
                "oscillatory": shrinks}[expect], f"{mode}: simulation disagrees with {expect}"


@pytest.mark.parametrize("mode,beta", [("simultaneous", 0.0), ("extragradient", 0.0),
                                       ("optimistic", 0.0), ("momentum", -0.3), ("momentum", 0.3)])
def test_stability_region_boundary(mode, beta):
    for curve in stability_region(mode, beta):
        mu = curve[np.isfinite(curve)]
        assert mu.size > 100
        # On the boundary the largest root has modulus one (root-locus construction).
        np.testing.assert_allclose(np.abs(z_of_mu(mu, mode, beta)).max(-1), 1.0, atol=1e-9)
    # Small negative real mu is inside for every rule; a large positive mu is outside.
    assert in_stability_region(-0.01 + 0j, mode, beta)
    assert not in_stability_region(0.5 + 0j, mode, beta)


def test_field_eigenvalues_isolated_and_general():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(0.5), 0.3)
    eq = kg.find_equilibrium(gan, [[0.0], [0.0]], [0.4, 0.4])
    gda = kg.GDA(0.1, 0.2)
    mu_general = np.sort_complex(kg.field_eigenvalues(gan, eq, gda))
    mu_closed = np.sort_complex(kg.isolated.field_eigenvalues(p=1.0, q=0.4, n=2, eta_d=0.1, eta_g=0.2,
                                                              lam=0.3, sigma=0.5))
    # Closed form (theory section 8) vs eigenvalues of M = D A: rounding ~1e-14.
    np.testing.assert_allclose(mu_general, mu_closed, atol=1e-10)


@pytest.mark.parametrize("kwargs,name", [
    (dict(mode="momentum", beta=1.0), "beta"),
    (dict(mode="momentum", beta=-1.5), "beta"),
    (dict(mode="simultaneous", beta=0.2), "beta"),
    (dict(mode="alternating", d_steps=0), "d_steps"),
    (dict(mode="alternating", d_steps=2.5), "d_steps"),
    (dict(mode="extragradient", d_steps=2), "d_steps"),
    (dict(mode="nesterov"), "mode"),
])
def test_bad_rule_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        kg.GDA(0.1, 0.1, **kwargs)
    with pytest.raises(ValueError, match=name):
        kg.isolated.eigenvalues(eta_d=0.1, eta_g=0.1, lam=0.1, sigma=1.0, **kwargs)


@pytest.mark.parametrize("mode,kw", [("optimistic", {}), ("momentum", {"beta": -0.3})])
def test_two_function_truncation_is_certified_and_effective(mode, kw):
    # The mixing map's 1-norm exceeds 1 here (|1 - 2a| + lam ~ 10.8): a 1-norm bound would grow
    # to inf. In the eigenbasis the dropped amplitudes shrink, truncation drops most slices and the
    # run stays on the full-history run (oracle: kg.simulate without truncation).
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(0.025), 10.0)
    eq = kg.find_equilibrium(gan, [[0.0]], 1.0)
    gda = kg.GDA(0.01, 0.01, mode, **kw)
    y0 = eq.y + 2.5e-8
    full = kg.simulate(gan, gda, y0, eq.q, 1000, start=eq)
    cut = kg.simulate(gan, gda, y0, eq.q, 1000, start=eq, history_tol=1e-12)
    assert np.isfinite(cut.truncation_bound) and 0 < cut.truncation_bound < 1e-9
    assert cut.num_slices < 500, "truncation should drop most of the history"
    # Gradient error <= ~5e-11 per step on |grad| ~ gamma |e| ~ 4e-5: deviation ~1e-6 relative.
    np.testing.assert_allclose(cut.y, full.y, rtol=0, atol=1e-4 * np.abs(full.y - eq.y).max())


@pytest.mark.parametrize("mode,kw", [("alternating", {"d_steps": 2}),
                                     pytest.param("extragradient", {}, marks=pytest.mark.slow),  # ~1-2 s
                                     ("optimistic", {}), ("momentum", {"beta": -0.3})])
def test_random_features_converge_to_exact_dynamics_for_every_rule(mode, kw):
    # Oracle: the exact kernel-expansion run of the same rule. Random Fourier features approximate
    # K with error ~1/sqrt(D), so 64x more features should cut the deviation about 8x; demand 3x
    # (averaged over two seeds, to keep the check robust to one lucky draw).
    gan = kg.KernelGAN([[0.0], [0.6]], [1.0, 1.0], kg.Gaussian(0.5), 0.5)
    gda = kg.GDA(0.1, 0.2, mode, **kw)
    y0, q = [[0.1], [0.5]], [1.0, 0.9]
    exact = kg.simulate(gan, gda, y0, q, 100)

    def err(num):
        return np.mean([np.abs(kg.simulate(gan, gda, y0, q, 100, discriminator=kg.RandomFeatures(num, seed=s)
                                           ).y - exact.y).max() for s in (1, 2)])
    coarse, fine = err(256), err(16384)
    assert fine < coarse / 3, f"{mode}: random features do not approach the exact run ({coarse}, {fine})"
