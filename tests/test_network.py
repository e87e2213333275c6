"""Network discriminators in parameter space (theory section 13).

Oracles: a two-layer network written out here (its value by a loop over neurons, its parameter
gradients by central finite differences), a hand-written network-GDA loop for every supported
rule (theory sections 2 and 8 with the field ``F = (F_D, F_G)`` in parameter space), and the
linearization of section 4 with the network's own tangent kernel for the measured rates.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

import kernelgda as kg
from kernelgda.discriminator.network import NETWORK_RULES

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")


def _act(name, z):
    return erf(z) if name == "erf" else np.maximum(z, 0.0)


def _f(theta, u, h, d, act="erf"):
    """The network ``f(u) = (1/sqrt(h)) sum_r a_r phi(w_r . u + b_r)``, a loop over neurons."""
    a, W, b = theta[:h], theta[h:h + h * d].reshape(h, d), theta[h + h * d:]
    return sum(a[r] * _act(act, W[r] @ u + b[r]) for r in range(h)) / np.sqrt(h)


def _grad_theta(theta, u, h, d, act="erf"):
    return oracles.fd_jacobian(lambda t: _f(t, u, h, d, act), theta, 1e-6).ravel()


def _grad_y(theta, u, h, d, act="erf"):
    return oracles.fd_jacobian(lambda v: _f(theta, v, h, d, act), u, 1e-6).ravel()


def _model(width=8, d=2, act="erf", seed=3, num_funcs=None, x=None):
    net = kg.NetworkDiscriminator(width=width, activation=act, sigma_w=1.1, sigma_b=0.4, seed=seed)
    x = np.array([[0.2, -0.1], [0.5, 0.3]])[:, :d] if x is None else x
    return net, net.build(None, x, np.array([0.6, 0.4]), num_funcs)


@pytest.mark.parametrize("act", ["erf", "relu"])
def test_initial_network_is_zero_and_its_gradients_match_finite_differences(act, rng):
    h, d = 8, 2
    _, model = _model(h, d, act)
    theta = model.theta()
    pts = rng.normal(size=(3, d))
    np.testing.assert_allclose(model.value(pts), 0.0, atol=1e-15, err_msg="antisymmetric start: f = 0")
    theta = theta + 0.3 * rng.normal(size=theta.shape)  # away from the symmetric start
    w = rng.normal(size=3)
    want = sum(w[j] * _grad_theta(theta, pts[j], h, d, act) for j in range(3))
    np.testing.assert_allclose(model.payoff_grad(theta, pts, w), want, rtol=1e-7, atol=1e-9,
                               err_msg="sum_j w_j grad_theta f(y_j) vs finite differences in theta")
    want_y = np.array([_grad_y(theta, u, h, d, act) for u in pts])
    np.testing.assert_allclose(model.grad_at(theta, pts), want_y, rtol=1e-7, atol=1e-9,
                               err_msg="grad_y f vs finite differences in y")


def test_tangent_kernel_is_the_gram_matrix_of_the_models_parameter_gradients(rng):
    net, model = _model(16, 2)
    pts = rng.normal(size=(4, 2))
    jac = np.array([model.payoff_grad(model.theta(), pts[j:j + 1], np.ones(1)) for j in range(4)])
    np.testing.assert_allclose(net.tangent_kernel()(pts, pts), jac @ jac.T, rtol=1e-12, atol=1e-14,
                               err_msg="Theta_h vs the Gram matrix of grad_theta f at initialization")


def _naive_run(mode, x, p, q, y0, lam, eta_d, eta_g, h, steps, theta0, beta=0.0, d_steps=1):
    """Network GDA written from theory sections 2 and 8 in parameter space."""
    d = x.shape[1]

    def field(theta, y):
        fd = sum(p[i] * _grad_theta(theta, x[i], h, d) for i in range(len(p)))
        fd = fd - sum(q[j] * _grad_theta(theta, y[j], h, d) for j in range(len(q))) - lam * (theta - theta0)
        fg = np.array([q[j] * _grad_y(theta, y[j], h, d) for j in range(len(q))])
        return fd, fg

    theta, y, out = theta0.copy(), y0.copy(), [y0.copy()]
    prev = vel = None
    for _ in range(steps):
        if mode == "simultaneous":
            fd, fg = field(theta, y)
            theta, y = theta + eta_d * fd, y + eta_g * fg
        elif mode == "alternating":
            for _ in range(d_steps):
                theta = theta + eta_d * field(theta, y)[0]
            y = y + eta_g * field(theta, y)[1]
        elif mode == "optimistic":
            fd, fg = field(theta, y)
            pd, pg = (fd, fg) if prev is None else prev
            prev = (fd, fg)
            theta, y = theta + eta_d * (2 * fd - pd), y + eta_g * (2 * fg - pg)
        else:  # momentum
            fd, fg = field(theta, y)
            vel = (fd, fg) if vel is None else (beta * vel[0] + fd, beta * vel[1] + fg)
            theta, y = theta + eta_d * vel[0], y + eta_g * vel[1]
        out.append(y.copy())
    return np.array(out)


@pytest.mark.parametrize(("mode", "opts"), [("simultaneous", {}), ("alternating", {}),
                                            ("alternating", {"d_steps": 2}), ("optimistic", {}),
                                            ("momentum", {"beta": 0.5})],
                         ids=["simultaneous", "alternating", "alternating-2", "optimistic", "momentum"])
def test_simulate_is_exact_network_gda_for_every_supported_rule(mode, opts):
    h, d, steps = 6, 2, 12
    x, p = np.array([[0.2, -0.1], [0.5, 0.3]]), np.array([0.6, 0.4])
    y0, q = np.array([[0.4, 0.1], [0.1, 0.2]]), np.array([0.5, 0.45])
    net = kg.NetworkDiscriminator(width=h, sigma_w=1.1, sigma_b=0.4, seed=5)
    gan = kg.KernelGAN(x, p, net.tangent_kernel(), lam=0.7)
    gda = kg.GDA(0.4, 0.3, mode=mode, **opts)
    traj = kg.simulate(gan, gda, y0, q, num_steps=steps, discriminator=net)
    a, W, b = net.tangent_kernel().parameters(d)
    want = _naive_run(mode, x, p, q, y0, 0.7, 0.4, 0.3, h, steps, np.concatenate([a, W.ravel(), b]),
                      beta=opts.get("beta", 0.0), d_steps=opts.get("d_steps", 1))
    assert not np.allclose(want[-1], y0, atol=1e-3), "the run must move for the check to mean anything"
    np.testing.assert_allclose(traj.y, want, rtol=0, atol=1e-9,
                               err_msg=f"simulate vs the hand-written network-GDA loop ({mode})")


def test_unsupported_rule_and_options_are_refused():
    net = kg.NetworkDiscriminator(width=4)
    gan = kg.KernelGAN([[0.0]], 1.0, net.tangent_kernel(), lam=1.0)
    assert set(NETWORK_RULES) == set(kg.MODES) - {"extragradient"}
    with pytest.raises(ValueError, match="extragradient"):
        kg.simulate(gan, kg.GDA(0.1, 0.1, mode="extragradient"), [[0.1]], 1.0, num_steps=2,
                    discriminator=net)
    with pytest.raises(ValueError, match="history_tol"):
        kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, num_steps=2, discriminator=net, history_tol=0.1)
    with pytest.raises(ValueError, match="width"):
        kg.NetworkDiscriminator(width=5)
    with pytest.raises(ValueError, match="activation"):
        kg.NetworkDiscriminator(width=4, activation="tanh")
    with pytest.raises(ValueError, match="lam > 0"):
        net.equilibrium(gan.with_lam(0.0), [[0.0]], 1.0)


def test_kernel_movement_matches_finite_difference_tangent_kernels(rng):
    h, d = 8, 2
    _, model = _model(h, d)
    theta0 = model.theta().copy()
    y = rng.normal(size=(2, d))
    model.record(y)
    model.delta = 0.2 * rng.normal(size=model.delta.shape)
    model.record(y)
    z = np.concatenate([model.x, y])

    def gram(theta):
        jac = np.array([_grad_theta(theta, u, h, d) for u in z])
        return jac @ jac.T

    want = np.linalg.norm(gram(model.theta()) - gram(theta0)) / np.linalg.norm(gram(theta0))
    assert model.movement[0] == 0.0, "no movement at initialization"
    np.testing.assert_allclose(model.movement[1], want, rtol=1e-6,
                               err_msg="|Theta_t - Theta_0| / |Theta_0| from finite-difference gradients")


def test_network_fixed_point_solves_both_players_equations():
    h, d = 16, 1
    net = kg.NetworkDiscriminator(width=h, sigma_w=1.0, sigma_b=0.5, seed=2)
    x, p, q, lam = np.array([[0.3]]), np.array([1.0]), np.array([0.8]), 2.0
    gan = kg.KernelGAN(x, p, net.tangent_kernel(), lam=lam)
    eq = net.equilibrium(gan, [[0.3]], q)
    assert eq.converged, eq.message
    a, W, b = net.tangent_kernel().parameters(d)
    theta0 = np.concatenate([a, W.ravel(), b])
    payoff = _grad_theta(eq.theta, x[0], h, d) - q[0] * _grad_theta(eq.theta, eq.y[0], h, d)
    np.testing.assert_allclose(lam * (eq.theta - theta0), payoff, rtol=0, atol=1e-8,
                               err_msg="discriminator fixed point vs finite-difference payoff gradient")
    np.testing.assert_allclose(_grad_y(eq.theta, eq.y[0], h, d), 0.0, atol=1e-8,
                               err_msg="generator fixed point: grad_y f = 0 (finite differences)")
    traj = kg.simulate(gan, kg.GDA(0.2, 0.05), eq.y, q, num_steps=50, discriminator=net, start=eq)
    np.testing.assert_allclose(traj.y[-1], eq.y, rtol=0, atol=1e-12, err_msg="a fixed point stays put")
    other = kg.NetworkDiscriminator(width=h, sigma_w=1.0, sigma_b=0.5, seed=3)
    with pytest.raises(ValueError, match="fixed point of"):
        kg.simulate(gan, kg.GDA(0.2, 0.05), eq.y, q, num_steps=2, discriminator=other, start=eq)


def _rate_case(width, q, mode="simultaneous", seed=0):
    x, lam = np.array([[0.3]]), 2.0
    net = kg.NetworkDiscriminator(width=width, sigma_w=1.0, sigma_b=0.5, seed=seed, track_movement=False)
    gan = kg.KernelGAN(x, 1.0, net.tangent_kernel(), lam=lam)
    gda = kg.GDA(0.2, 0.05, mode=mode)
    kernel_eq = kg.find_equilibrium(gan, x, q)
    predicted = kg.linearize(gan, kernel_eq, gda).generator_rate
    start = kernel_eq if q == 1.0 else net.equilibrium(gan, kernel_eq.y, q)
    traj = kg.simulate(gan, gda, start.y + 1e-4, q, num_steps=1200, discriminator=net, start=start)
    measured = traj.measure(start.y, linear_limit=1e-6, noise_floor=1e-11).rate
    return measured, predicted


@pytest.mark.slow
@pytest.mark.parametrize("width", [16, 256, 4096])
@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
def test_tangent_kernel_linearization_predicts_the_network_rate_at_matched_mass(width, mode):
    measured, predicted = _rate_case(width, 1.0, mode)
    np.testing.assert_allclose(measured, predicted, rtol=0, atol=1e-6,
                               err_msg="network rate vs linearize with its tangent kernel (section 13)")


@pytest.mark.slow
@pytest.mark.parametrize("width", [16, 1024])
def test_tangent_kernel_linearization_predicts_the_network_rate_with_a_mass_mismatch(width):
    measured, predicted = _rate_case(width, 0.8)
    np.testing.assert_allclose(measured, predicted, rtol=0, atol=2e-5,
                               err_msg="network rate vs linearize with its tangent kernel, q = 0.8")


def test_start_at_a_kernel_fixed_point_solves_the_discriminator_alone():
    net = kg.NetworkDiscriminator(width=32, sigma_w=1.0, sigma_b=0.5, seed=4)
    x = np.array([[0.3]])
    gan = kg.KernelGAN(x, 1.0, net.tangent_kernel(), lam=2.0)
    eq = kg.find_equilibrium(gan, x, 0.8)
    model = net.build(None, x, np.ones(1))
    model.start_at(gan, eq.y, np.array([0.8]), eq)
    theta = model.theta()
    payoff = model.payoff_grad(theta, x, np.ones(1)) - model.payoff_grad(theta, eq.y, np.array([0.8]))
    np.testing.assert_allclose(2.0 * (theta - model.theta0), payoff, rtol=0, atol=1e-13,
                               err_msg="lam (theta - theta0) = payoff gradient at the start")


@pytest.mark.parametrize("mode", ["momentum", "optimistic"])
def test_two_function_rules_start_at_the_network_fixed_point_and_stay(mode):
    net = kg.NetworkDiscriminator(width=16, sigma_w=1.0, sigma_b=0.5, seed=2)
    gan = kg.KernelGAN([[0.3]], 1.0, net.tangent_kernel(), lam=2.0)
    eq = net.equilibrium(gan, [[0.3]], 0.8)
    opts = {"beta": 0.3} if mode == "momentum" else {}
    traj = kg.simulate(gan, kg.GDA(0.2, 0.05, mode=mode, **opts), eq.y, 0.8, num_steps=40,
                       discriminator=net, start=eq, record_every=7)
    np.testing.assert_allclose(traj.y[-1], eq.y, rtol=0, atol=1e-12,
                               err_msg=f"{mode}: a fixed point stays put")
    assert traj.kernel_movement.shape == (traj.y.shape[0],), "one movement per recorded row"
    assert traj.kernel_movement[0] > 0, "started at theta* != theta0, so Theta moved from Theta_0"


def test_relu_network_run_is_exact_network_gda():
    h, d, steps = 6, 2, 8
    x, p = np.array([[0.2, -0.1], [0.5, 0.3]]), np.array([0.6, 0.4])
    y0, q = np.array([[0.4, 0.1], [0.1, 0.2]]), np.array([0.5, 0.45])
    net = kg.NetworkDiscriminator(width=h, activation="relu", sigma_w=1.1, sigma_b=0.4, seed=5)
    gan = kg.KernelGAN(x, p, net.tangent_kernel(), lam=0.7)
    traj = kg.simulate(gan, kg.GDA(0.4, 0.3, mode="simultaneous"), y0, q, num_steps=steps,
                       discriminator=net)
    a, W, b = net.tangent_kernel().parameters(d)
    theta0 = np.concatenate([a, W.ravel(), b])
    # the hand-written loop with the ReLU network (finite differences stay off the kinks here)
    theta, y = theta0.copy(), y0.copy()
    for _ in range(steps):
        fd = sum(p[i] * _grad_theta(theta, x[i], h, d, "relu") for i in range(2))
        fd = fd - sum(q[j] * _grad_theta(theta, y[j], h, d, "relu") for j in range(2))
        fd = fd - 0.7 * (theta - theta0)
        fg = np.array([q[j] * _grad_y(theta, y[j], h, d, "relu") for j in range(2)])
        theta, y = theta + 0.4 * fd, y + 0.3 * fg
    assert not np.allclose(y, y0, atol=1e-3), "the run must move"
    np.testing.assert_allclose(traj.y[-1], y, rtol=0, atol=1e-8,
                               err_msg="ReLU network vs the hand-written loop")


def test_simulate_max_memory_governs_the_network_parameters():
    """simulate's max_memory reaches the network's parameter buffers (checked before building)."""
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(0.5), lam=1.0)
    net = kg.NetworkDiscriminator(width=100_000, activation="erf", sigma_w=1.0, sigma_b=0.0, seed=0)
    with pytest.raises(ValueError, match="network discriminator parameters: needs 12.0 MB"):
        kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, 5, discriminator=net, max_memory="1M")
    small = kg.NetworkDiscriminator(width=16, activation="erf", sigma_w=1.0, sigma_b=0.0, seed=0)
    assert str(kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, 5, discriminator=small,
                           max_memory="1M").status) == "completed"
