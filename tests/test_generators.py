"""Parametric generators (theory section 12): derivatives, exact dynamics, fixed points.

Oracles: central finite differences and the complex step for every derivative; an MLP forward
pass and an MMD^2 written here; the literal update rules of tests/oracles.py acting on theta.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

import kernelgda as kg
from kernelgda.generators import MLP, Affine, Points
from tests import oracles


def _mlp_forward(theta, z, hidden, d, act):
    """An independent forward pass of the layout in kernelgda.generators.mlp's docstring."""
    sizes = (z.shape[1], *hidden, d)
    a, at = z, 0
    for i, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = theta[at:at + fi * fo].reshape(fi, fo)
        at += fi * fo
        b = theta[at:at + fo]
        at += fo
        a = a @ w + b
        if i < len(sizes) - 2:
            a = act(a)
    return a


def _generators(rng):
    z = rng.standard_normal((5, 2))
    out = {
        "affine": Affine(z, 2, seed=1),
        "affine-nobias": Affine(z, 3, bias=False, seed=2),
        "mlp-tanh": MLP(z, 2, (4,), "tanh", seed=3),
        "mlp-softplus-deep": MLP(z, 2, (4, 3), "softplus", seed=4),
        "mlp-relu": MLP(z, 1, (6,), "relu", seed=5),
    }
    for gen in out.values():  # move off the initialization (biases 0) to a generic point
        gen.theta = gen.theta + 0.3 * rng.standard_normal(gen.num_params)
    return out


NAMES = ["affine", "affine-nobias", "mlp-tanh", "mlp-softplus-deep", "mlp-relu"]


@pytest.mark.parametrize("name", NAMES)
def test_jacobian_and_vjp_against_differences(name, rng):
    gen = _generators(rng)[name]
    th = gen.theta
    jac = gen.jacobian(th)
    h = 1e-6
    fd = np.stack([(gen.points(th + h * e) - gen.points(th - h * e)).ravel() / (2 * h)
                   for e in np.eye(gen.num_params)], axis=1)
    np.testing.assert_allclose(jac, fd, atol=1e-7, err_msg="Jacobian vs central differences")
    v = rng.standard_normal((gen.n, gen.d))
    np.testing.assert_allclose(gen.vjp(th, v), fd.T @ v.ravel(), atol=1e-7,
                               err_msg="vjp vs central-difference J^T v")


@pytest.mark.parametrize("name", [n for n in NAMES if n != "mlp-relu"])
def test_contraction_against_differences_of_the_vjp(name, rng):
    gen = _generators(rng)[name]
    th, v = gen.theta, rng.standard_normal((gen.n, gen.d))
    h = 1e-5
    fd = np.stack([(gen.vjp(th + h * e, v) - gen.vjp(th - h * e, v)) / (2 * h)
                   for e in np.eye(gen.num_params)], axis=1)
    got = gen.contraction(th, v)
    np.testing.assert_allclose(got, fd, atol=1e-8, err_msg="d/dtheta [J^T v] vs central differences")
    np.testing.assert_allclose(got, got.T, atol=1e-12, err_msg="a Hessian is symmetric")
    if name.startswith("affine"):
        assert np.abs(got).max() == 0.0, "an affine generator has no second derivative"


def test_mlp_points_match_an_independent_forward_pass(rng):
    z = rng.standard_normal((7, 3))
    for act_name, act in (("tanh", np.tanh), ("softplus", lambda x: np.log1p(np.exp(x))),
                          ("relu", lambda x: np.maximum(x, 0))):
        gen = MLP(z, 2, (5, 4), act_name, seed=8)
        th = gen.theta + 0.1 * rng.standard_normal(gen.num_params)
        np.testing.assert_allclose(gen.points(th), _mlp_forward(th, z, (5, 4), 2, act), rtol=1e-13,
                                   atol=1e-14, err_msg=f"{act_name}: forward pass written in the test")


def test_affine_tangent_kernel_closed_form(rng):
    z = rng.standard_normal((4, 3))
    eye = np.eye(2)
    np.testing.assert_allclose(Affine(z, 2).tangent_kernel(), np.kron(z @ z.T + 1.0, eye), atol=1e-14,
                               err_msg="(Z Z^T + 1 1^T) (x) I_d, theory section 12")
    np.testing.assert_allclose(Affine(z, 2, bias=False).tangent_kernel(), np.kron(z @ z.T, eye),
                               atol=1e-14, err_msg="Z Z^T (x) I_d without the bias")


def test_point_generator_is_the_identity():
    y = np.array([[0.1, 0.2], [0.3, -0.4]])
    gen = Points(y)
    np.testing.assert_array_equal(gen.points(gen.theta), y)
    np.testing.assert_array_equal(gen.jacobian(gen.theta), np.eye(4))
    gan = kg.KernelGAN([[0.0, 0.0], [0.5, 0.0]], 0.5, kg.Gaussian(0.4), lam=0.5)
    gda = kg.GDA(0.1, 0.2)
    a = kg.simulate(gan, gda, gen, 0.5, 30)
    b = kg.simulate(gan, gda, y, 0.5, 30)
    np.testing.assert_array_equal(a.y, b.y, err_msg="Points(y0) runs the point model itself")
    assert a.theta is None and b.theta is None


def test_relu_generator_refused_by_fixed_points_and_contraction(rng):
    gen = MLP(rng.standard_normal((3, 1)), 1, (4,), "relu", seed=0)
    gan = kg.KernelGAN([[0.0], [1.0], [2.0]], 1.0, kg.Gaussian(0.5), lam=1.0)
    with pytest.raises(ValueError, match="relu"):
        kg.find_equilibrium(gan, gen, 1.0)
    with pytest.raises(ValueError, match="relu"):
        gen.contraction(gen.theta, np.zeros((3, 1)))


@pytest.mark.parametrize("bad, match", [
    (lambda: Affine([[1.0], [2.0]], d=0), "d must be >= 1"),
    (lambda: Affine([[1.0], [2.0]], d=1, theta=[1.0, 2.0, 3.0]), "theta must be a vector of 2"),
    (lambda: Affine([[1.0], [2.0]], d=1, theta=[1.0, 2.0], seed=3), "theta or seed"),
    (lambda: Affine([["a"], ["b"]], d=1), "z must be numbers"),
    (lambda: Affine(np.zeros((0, 2)), d=1), "latent codes"),
    (lambda: MLP([[0.0]], 1, hidden=(), activation="tanh"), "hidden"),
    (lambda: MLP([[0.0]], 1, hidden=(0,)), "hidden must be >= 1"),
    (lambda: MLP([[0.0]], 1, hidden=(2,), activation="sigmoid"), "activation"),
    (lambda: MLP([[0.0]], 1, hidden=(10**6, 10**6)), "generator parameters"),
    (lambda: Affine([[1.0]], 1).jacobian([1.0]), "theta must be a vector of 2"),
])
def test_bad_generator_input_is_one_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_generator_dimension_must_match_the_game(rng):
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(0.5), lam=1.0)
    gen = Affine(rng.standard_normal((1, 2)), 1)
    with pytest.raises(ValueError, match="d|dimension"):
        kg.simulate(gan, kg.GDA(0.1, 0.1), gen, 1.0, 5)
    with pytest.raises(ValueError, match="dimension"):
        kg.find_equilibrium(gan, gen, 1.0)


# -- exact dynamics ---------------------------------------------------------------------------

RULES = [("simultaneous", {}), ("alternating", {}), ("alternating", {"d_steps": 2}),
         ("extragradient", {}), ("optimistic", {}), ("momentum", {"beta": 0.4})]


@pytest.mark.parametrize("mode, options", RULES)
def test_every_rule_on_theta_matches_the_literal_oracle(mode, options, rng):
    z = rng.standard_normal((3, 2))
    gen = MLP(z, 2, (3,), "tanh", seed=1)
    gen.theta = gen.theta + 0.2 * rng.standard_normal(gen.num_params)
    gan = kg.KernelGAN([[0.0, 0.0], [1.0, 0.5], [-0.5, 1.0]], [0.3, 0.3, 0.4], kg.Gaussian(0.7), lam=0.4)
    q = np.array([0.2, 0.5, 0.3])
    gda = kg.GDA(0.2, 0.3, mode=mode, **options)
    traj = kg.simulate(gan, gda, gen, q, 12)

    def points_fn(th):  # the test's own forward pass (complex-safe: tanh)
        return _mlp_forward(th, z, (3,), 2, np.tanh)

    ref = oracles.naive_rule_simulate(gan.kernel, gan.x_true, gan.p_true, gan.lam, gda.eta_d, gda.eta_g,
                                      mode, gen.theta, q, 12, points_fn=points_fn, **options)
    np.testing.assert_allclose(traj.y, ref, rtol=1e-10, atol=1e-12,
                               err_msg=f"{mode}: literal rule on theta (tests/oracles.py)")
    assert traj.theta.shape == (13, gen.num_params)
    np.testing.assert_allclose(points_fn(traj.theta[-1]), traj.y[-1], atol=1e-13,
                               err_msg="recorded theta gives the recorded points")


@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
def test_affine_run_is_the_point_model_premultiplied_by_theta(mode, rng):
    z = rng.standard_normal((3, 2))
    gen = Affine(z, 1, seed=0)
    gan = kg.KernelGAN([[-1.0], [0.2], [1.4]], 1 / 3, kg.Gaussian(0.5), lam=0.7)
    q = np.full(3, 1 / 3)
    eta_d, eta_g, steps = 0.15, 0.2, 40
    traj = kg.simulate(gan, kg.GDA(eta_d, eta_g, mode=mode), gen, q, steps)
    theta_k = np.kron(z @ z.T + 1.0, np.eye(1))  # the tangent kernel, closed form
    hist = [gen.points(gen.theta)]
    for k in range(steps):
        y = hist[-1]
        # grad f^k (simultaneous) or grad f^{k+1} (alternating) from the unrolled history
        kk = k if mode == "simultaneous" else k + 1
        g = oracles.naive_fgrad(gan.kernel, gan.x_true, gan.p_true, gan.lam, eta_d, q, hist, kk, y)
        hist.append(y + eta_g * (theta_k @ (q[:, None] * g).ravel()).reshape(y.shape))
    np.testing.assert_allclose(traj.y, np.array(hist), rtol=1e-12, atol=1e-13,
                               err_msg="point model with the step premultiplied by Theta")


def test_trajectory_records_theta_with_a_stride(rng):
    gen = MLP(rng.standard_normal((4, 1)), 1, (3,), "softplus", seed=2)
    gan = kg.KernelGAN([[0.0], [1.0]], 0.5, kg.Gaussian(0.5), lam=1.0)
    traj = kg.simulate(gan, kg.GDA(0.1, 0.1), gen, 0.25, 10, record_every=4)
    assert traj.steps.tolist() == [0, 4, 8, 10]
    assert traj.theta.shape == (4, gen.num_params)
    np.testing.assert_allclose(gen.points(traj.theta[2]), traj.y[2], atol=1e-14)


def test_random_features_discriminator_with_a_generator(rng):
    gen = Affine(rng.standard_normal((3, 2)), 1, seed=1)
    gan = kg.KernelGAN([[-1.0], [0.0], [1.0]], 1 / 3, kg.Gaussian(0.6), lam=0.5)
    exact = kg.simulate(gan, kg.GDA(0.1, 0.05), gen, 1 / 3, 60)
    approx = kg.simulate(gan, kg.GDA(0.1, 0.05), gen, 1 / 3, 60,
                         discriminator=kg.RandomFeatures(num_features=40000, seed=1))
    assert str(approx.status) == "completed"
    np.testing.assert_allclose(approx.y[-1], exact.y[-1], atol=0.02,
                               err_msg="random features converge to the exact kernel, O(1/sqrt(D))")


# -- fixed points ------------------------------------------------------------------------------

def _gauss_mmd2(y, x, p, q, sigma):
    """MMD^2 of a Gaussian kernel, written here."""
    def gram(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))
    return p @ gram(x, x) @ p - 2 * p @ gram(x, y) @ q + q @ gram(y, y) @ q


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fixed_point_is_a_stationary_point_of_mmd2(seed):
    rng = np.random.default_rng(seed)
    x = np.array([[-1.0], [0.3], [1.5]])
    p = np.full(3, 1 / 3)
    gan = kg.KernelGAN(x, p, kg.Gaussian(0.6), lam=1.0)
    gen = MLP(rng.standard_normal((3, 2)), 1, (2,), "tanh", seed=seed)
    q = np.full(3, 1 / 3)
    eq = kg.find_equilibrium(gan, gen, q)
    assert eq.converged, eq.message
    assert eq.gradient_kind in ("perfect-gradient", "parametric")

    def obj(th):
        return _gauss_mmd2(_mlp_forward(th, gen.z, (2,), 1, np.tanh), x, p, q, 0.6)

    h = 1e-6
    grad = np.array([(obj(eq.theta + h * e) - obj(eq.theta - h * e)) / (2 * h)
                     for e in np.eye(gen.num_params)])
    assert np.abs(grad).max() < 1e-8, "central-difference gradient of MMD^2 vanishes at theta*"
    # a plain minimization written here, from the same start, reaches the same MMD^2 and points
    ref = minimize(obj, gen.theta, method="BFGS", options={"gtol": 1e-12, "maxiter": 5000})
    assert abs(ref.fun - obj(eq.theta)) < 1e-9, (ref.fun, obj(eq.theta))
    np.testing.assert_allclose(np.sort(eq.y.ravel()),
                               np.sort(_mlp_forward(ref.x, gen.z, (2,), 1, np.tanh).ravel()), atol=1e-4,
                               err_msg="plain BFGS on MMD^2 written in the test")


def test_fixed_point_kinds_perfect_gradient_and_parametric(rng):
    x = np.array([[-2.0], [0.0], [2.0]])
    gan = kg.KernelGAN(x, 1 / 3, kg.Gaussian(0.5), lam=1.0)
    # three codes, a linear map R^3 -> R: can put every point on its true point
    z = np.array([[1.0, 0.2, 0.0], [0.1, 1.0, 0.3], [0.0, 0.4, 1.0]])
    w = np.linalg.solve(z, x.ravel())
    eq = kg.find_equilibrium(gan, Affine(z, 1, bias=False, theta=w + 0.05), 1 / 3)
    assert eq.converged and eq.gradient_kind == "perfect-gradient"
    np.testing.assert_allclose(eq.y, x, atol=1e-9, err_msg="the perfect fit is reachable")
    # one code dimension, no bias: y_j = w z_j, cannot fit all three points
    eq = kg.find_equilibrium(gan, Affine([[1.0], [0.5], [-0.7]], 1, bias=False, theta=[1.5]), 1 / 3)
    assert eq.converged and eq.gradient_kind == "parametric"
    g = kg.equilibrium.stationarity(gan, eq.y, eq.q)
    assert np.abs(g).max() > 1e-3, "grad f* does not vanish at a parametric fixed point"
    proj = eq.generator.jacobian(eq.theta).T @ (eq.q[:, None] * g).ravel()
    assert np.abs(proj).max() < 1e-10, "but its projection J^T Q grad f* does"


# -- linearization -----------------------------------------------------------------------------

def _perfect_gradient_case():
    x = np.array([[-1.0], [0.0], [1.2]])
    gan = kg.KernelGAN(x, 1 / 3, kg.Gaussian(0.5), lam=1.0)
    z = np.array([[1.0, 0.2], [0.3, 1.0], [-0.5, 0.4]])
    gen = MLP(z, 1, (2,), "tanh", seed=3)
    eq = kg.find_equilibrium(gan, gen, 1 / 3)
    return gan, eq


@pytest.mark.parametrize("mode", ["simultaneous", "alternating"])
def test_linearization_against_finite_differences_of_the_step_on_theta(mode):
    rng = np.random.default_rng(4)
    x = np.array([[-1.0], [0.2], [1.1]])
    gan = kg.KernelGAN(x, [0.3, 0.3, 0.4], kg.Gaussian(0.5), lam=1.0)
    z = rng.standard_normal((3, 1))
    gen = MLP(z, 1, (2,), "tanh", seed=5)  # P = 7 > n d = 3, M != 0 at a parametric point
    eq = kg.find_equilibrium(gan, gen, 1 / 3)
    assert eq.converged, eq.message
    gda = kg.GDA(0.1, 0.3, mode=mode)
    lin = kg.linearize(gan, eq, gda)

    def points_fn(th):
        return _mlp_forward(th, z, (2,), 1, np.tanh)

    step, locs = oracles.reduced_step_map(gan.kernel, x, gan.p_true, gan.lam, gda.eta_d, gda.eta_g, mode,
                                          eq.y, eq.q, points_fn=points_fn, theta_star=eq.theta)
    h = np.concatenate([np.full(locs.size, 1e-6), np.full(gen.num_params, 1e-6)])
    fd = oracles.fd_jacobian(step, np.zeros(h.size), h)
    np.testing.assert_allclose(lin.matrix, fd, atol=2e-7,
                               err_msg="finite differences of the exact one-step map on (B, t)")


def test_perfect_gradient_map_is_section4_with_theta_q():
    gan, eq = _perfect_gradient_case()
    assert eq.gradient_kind == "perfect-gradient", eq.gradient_kind
    gda = kg.GDA(0.1, 0.2, mode="simultaneous")
    lin = kg.linearize(gan, eq, gda)
    jac = eq.generator.jacobian(eq.theta)
    theta_k = jac @ jac.T
    b = kg.linearize.__globals__["reduced_blocks"](gan, eq.y, eq.q)[2]  # the point model's blocks
    C, H, Q, Pb = b["C"], b["H"], b["Q"], b["Pb"]
    a = gda.eta_d * gan.lam
    lb, ne = C.shape[0], Q.shape[0]
    point = np.block([[(1 - a) * np.eye(lb), -gda.eta_d * C @ Q],
                      [gda.eta_g * theta_k @ Q @ Pb, np.eye(ne) + gda.eta_g * theta_k @ Q @ H]])
    ev_point = np.linalg.eigvals(point)
    ev_gen = lin.eigenvalues[~lin.neutral]
    # the point-space map also has eigenvalue 1 on the null space of Theta (rank n d = 3 here)
    keep = np.abs(ev_point - 1) > 1e-9
    matched = oracles.match_eigenvalues(ev_gen, ev_point[keep])
    assert np.abs(matched).max() < 1e-10, "section 4 with eta_g Q -> eta_g Theta Q, theory section 12"


def test_reparametrizations_are_neutral_and_invisible():
    gan, eq = _perfect_gradient_case()
    lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.2))
    p_minus_rank = eq.generator.num_params - np.linalg.matrix_rank(eq.generator.jacobian(eq.theta))
    assert int(lin.neutral.sum()) == p_minus_rank
    np.testing.assert_allclose(lin.eigenvalues[lin.neutral], 1.0, atol=1e-9)
    assert not lin.visible[lin.neutral].any()


@pytest.mark.slow
def test_section12_table_linear_generator_rate_and_closed_form():
    """Theory section 12's table, first row: a linear generator on 3 isolated true points."""
    x = np.array([[-3.0], [0.0], [3.0]])
    gan = kg.KernelGAN(x, 1.0, kg.Gaussian(0.3), lam=0.5)
    rng = np.random.default_rng(11)
    z = rng.standard_normal((3, 3))
    gen = Affine(z, 1, bias=False, theta=np.linalg.solve(z, x.ravel()))
    eq = kg.find_equilibrium(gan, gen, 1.0)
    th = np.linalg.eigvalsh(gen.tangent_kernel())
    eta_g, _ = kg.generator_rates.best_rate(th, eta_d=0.1, lam=0.5, sigma=0.3)
    gda = kg.GDA(0.1, eta_g)
    lin = kg.linearize(gan, eq, gda)
    closed = kg.generator_rates.eigenvalues(th, eta_d=0.1, eta_g=eta_g, lam=0.5, sigma=0.3)
    assert abs(lin.generator_rate - float(closed.generator_rate)) < 1e-9, "closed form, theory section 12"
    e0 = 1e-4 * rng.standard_normal((3, 1))
    t0 = np.linalg.lstsq(gen.jacobian(eq.theta), e0.ravel(), rcond=None)[0]
    traj = kg.simulate(gan, gda, gen.with_theta(eq.theta + t0), 1.0, 6000, start=eq, record_every=2)
    measured = traj.rate(eq.y)
    assert abs(measured - lin.generator_rate) < 1e-4, f"measured {measured} vs {lin.generator_rate}"


@pytest.mark.slow
def test_parametric_fixed_point_rate_with_the_m_term():
    """Section 12: at a parametric fixed point (M != 0) the prediction holds."""
    rng = np.random.default_rng(4)
    x = np.array([[-1.5], [-0.5], [0.4], [1.3], [2.0]])
    gan = kg.KernelGAN(x, 0.2, kg.Gaussian(0.6), lam=1.0)
    gen = MLP(np.linspace(-1, 1, 5)[:, None], 1, (1,), "tanh", seed=1)  # P = 4 < n d = 5
    eq = kg.find_equilibrium(gan, gen, 0.2)
    assert eq.converged and eq.gradient_kind == "parametric"
    lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.5))
    assert np.abs(lin.blocks["M"]).max() > 1e-4, "the M term is present"
    t0 = 1e-4 * rng.standard_normal(gen.num_params)
    traj = kg.simulate(gan, kg.GDA(0.1, 0.5), gen.with_theta(eq.theta + t0), 0.2, 4000, start=eq)
    measured = traj.rate(eq.y, linear_limit=1e-3)
    assert lin.stable
    assert abs(measured - lin.generator_rate) < 1e-4, f"measured {measured} vs {lin.generator_rate}"


# -- closed forms ------------------------------------------------------------------------------

def test_band_ratio_and_best_rate_against_theory_numbers():
    # theory section 12: 6082 at eta_d lam = 0.05; 1 - rate = 2.5e-2 up to kappa = 6000,
    # 9.5e-3 at 1e4, 7.9e-4 at 1e5
    assert abs(kg.generator_rates.band_ratio(0.1, 0.5) - 6082) < 1
    for kappa, gap in ((10.0, 2.53e-2), (6000.0, 2.53e-2), (1e4, 9.5e-3), (1e5, 7.9e-4)):
        _, rate = kg.generator_rates.best_rate([1.0, np.sqrt(kappa), kappa], eta_d=0.1, lam=0.5, sigma=1.0)
        assert abs((1 - rate) - gap) < 0.02 * gap, (kappa, 1 - rate)


def test_closed_form_equals_linearization_for_isolated_clusters(rng):
    x = np.array([[-4.0], [0.0], [4.0]])
    gan = kg.KernelGAN(x, 0.7, kg.Gaussian(0.4), lam=0.8)
    z = rng.standard_normal((3, 2))
    fit = np.linalg.solve(np.hstack([z, np.ones((3, 1))]), x.ravel())
    gen = Affine(z, 1, bias=True, theta=fit + 0.01)
    eq = kg.find_equilibrium(gan, gen, 0.7)
    np.testing.assert_allclose(eq.y, x, atol=1e-8)
    th = np.linalg.eigvalsh(gen.tangent_kernel())
    for mode in ("alternating", "simultaneous"):
        lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.3, mode=mode))
        closed = kg.generator_rates.eigenvalues(th, p=0.7, q=0.7, eta_d=0.1, eta_g=0.3, lam=0.8,
                                                sigma=0.4, mode=mode)
        assert abs(lin.generator_rate - float(closed.generator_rate)) < 1e-10, mode


@pytest.mark.parametrize("bad, match", [
    (lambda: kg.generator_rates.eigenvalues([0.0], eta_d=0.1, eta_g=0.1, lam=1, sigma=1), "positive"),
    (lambda: kg.generator_rates.eigenvalues([-1.0], eta_d=0.1, eta_g=0.1, lam=1, sigma=1), "theta"),
    (lambda: kg.generator_rates.band_ratio(2.0, 1.0), "eta_d lam < 1"),
    (lambda: kg.generator_rates.best_rate([1.0], eta_d=0.1, lam=1, sigma=1, num=10**9), "num"),
])
def test_closed_form_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


# -- the JAX adapter ---------------------------------------------------------------------------

def _jax_mlp(rng):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    from kernelgda.generators import JaxGenerator

    z = rng.standard_normal((4, 2))
    mlp = MLP(z, 2, (3,), "tanh", seed=0)
    mlp.theta = mlp.theta + 0.2 * rng.standard_normal(mlp.num_params)

    def fn(theta, zj):  # the same layout as kernelgda.generators.MLP
        w1, b1 = theta[:6].reshape(2, 3), theta[6:9]
        w2, b2 = theta[9:15].reshape(3, 2), theta[15:17]
        return jnp.tanh(zj @ w1 + b1) @ w2 + b2

    return mlp, JaxGenerator(fn, z, theta=mlp.theta)


def test_jax_adapter_matches_the_builtin_mlp(rng):
    mlp, adapter = _jax_mlp(rng)
    th, v = mlp.theta, rng.standard_normal((4, 2))
    assert (adapter.n, adapter.d, adapter.num_params) == (4, 2, 17)
    np.testing.assert_allclose(adapter.points(th), mlp.points(th), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(adapter.jacobian(th), mlp.jacobian(th), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(adapter.vjp(th, v), mlp.vjp(th, v), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(adapter.contraction(th, v), mlp.contraction(th, v), rtol=1e-10, atol=1e-12,
                               err_msg="jax.hessian vs the complex-step contraction")
    h = 1e-6
    fd = np.stack([(adapter.points(th + h * e) - adapter.points(th - h * e)).ravel() / (2 * h)
                   for e in np.eye(17)], axis=1)
    np.testing.assert_allclose(adapter.jacobian(th), fd, atol=1e-7, err_msg="central differences")


def test_jax_adapter_runs_like_the_builtin_mlp(rng):
    mlp, adapter = _jax_mlp(rng)
    gan = kg.KernelGAN([[0.0, 0.0], [1.0, 0.0]], 0.5, kg.Gaussian(0.6), lam=0.5)
    gda = kg.GDA(0.1, 0.2, mode="extragradient")
    a = kg.simulate(gan, gda, mlp, 0.25, 25)
    b = kg.simulate(gan, gda, adapter, 0.25, 25)
    np.testing.assert_allclose(b.y, a.y, rtol=1e-11, atol=1e-12)


def test_jax_adapter_bad_function_is_one_line(rng):
    pytest.importorskip("jax")
    from kernelgda.generators import JaxGenerator
    with pytest.raises(ValueError, match="fn must be a function"):
        JaxGenerator("not a function", [[0.0]], theta=[1.0])
    with pytest.raises(ValueError, match="failed"):
        JaxGenerator(lambda th, z: th.reshape(3, 7) @ z, [[0.0]], theta=[1.0])


def test_import_kernelgda_does_not_import_jax():
    import subprocess
    import sys
    code = ("import sys, kernelgda, kernelgda.generators; "
            "kernelgda.wasserstein2([[0.0]], 1.0, [[1.0]], 1.0); print('jax' in sys.modules)")
    # (POT would import JAX as a backend if it were allowed to)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "JAX is an optional extra, imported only by JaxGenerator"


def test_pot_backend_switches_are_restored():
    import os
    import subprocess
    import sys
    code = ("import os, kernelgda; kernelgda.wasserstein2([[0.0]], 1.0, [[1.0]], 1.0); "
            "print(sorted(k for k in os.environ if k.startswith('POT_BACKEND')))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POT_BACKEND")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]", "the environment is left as it was"


# -- scenario files and the command line -------------------------------------------------------

BASE = {"lam": 1.0, "true": {"points": [[-1.0], [0.0], [1.2]]}, "generated": {"on_true": True},
        "kernel": {"sigma": 0.5}, "gda": {"eta_d": 0.1, "eta_g": 0.2}}


def test_scenario_generator_table():
    from kernelgda.scenario import parse_scenario
    s = parse_scenario(dict(BASE, generator={"kind": "mlp", "latent_dim": 2, "hidden": [3], "seed": 1}))
    assert isinstance(s.generator, MLP) and s.generator.hidden == (3,) and s.generator.z.shape == (3, 2)
    z = [[0.1], [0.2], [0.3]]
    s = parse_scenario(dict(BASE, generator={"kind": "affine", "latent": z, "bias": False}))
    np.testing.assert_array_equal(s.generator.z, np.array(z))
    assert s.generator.num_params == 1
    assert parse_scenario(BASE).generator is None


@pytest.mark.parametrize("tab, match", [
    ({"kind": "gan"}, "generator.kind"),
    ({"kind": "mlp", "latent_dim": 2, "width": 3}, "generator.width"),
    ({"kind": "mlp", "latent_dim": 0}, "generator.latent_dim"),
    ({"kind": "mlp", "latent_dim": 2, "hidden": [0]}, "generator.hidden"),
    ({"kind": "mlp", "latent_dim": 2, "hidden": 3}, "generator.hidden"),
    ({"kind": "mlp", "latent_dim": 2, "activation": "gelu"}, "generator.activation"),
    ({"kind": "affine", "latent_dim": 2, "hidden": [3]}, "generator.hidden"),
    ({"kind": "mlp", "latent_dim": 2, "bias": False}, "generator.bias"),
    ({"kind": "affine", "latent": [[0.1], [0.2]]}, "generator.latent"),
    ({"kind": "affine", "latent": [["a"], ["b"], ["c"]]}, "generator.latent"),
    ({"kind": "affine", "latent": [[1.0]] * 3, "latent_dim": 1}, "not both"),
    ({"kind": "affine", "latent_dim": 10**7}, "latent_dim"),
    ({"kind": "affine", "latent_dim": 1, "theta": [1.0]}, "generator.theta must be a list of 2"),
    ({"kind": "affine", "latent_dim": 1, "theta": [1.0, 2.0], "seed": 1}, "not both"),
])
def test_scenario_generator_table_refusals(tab, match):
    from kernelgda.scenario import parse_scenario
    with pytest.raises(ValueError, match=match):
        parse_scenario(dict(BASE, generator=tab))


def test_cli_analyze_reports_the_generator(tmp_path):
    import json
    import subprocess
    import sys
    path = tmp_path / "gen.toml"
    path.write_text('lam = 1.0\n[true]\npoints = [[-4.0], [0.0], [4.0]]\n[generated]\non_true = true\n'
                    '[kernel]\nsigma = 0.5\n[gda]\neta_d = 0.1\neta_g = 0.2\n'
                    '[generator]\nkind = "affine"\nlatent = [[1.0, 0.2], [0.3, 1.0], [-0.5, 0.4]]\n'
                    'theta = [-5.2, 0.4, 1.2]\n')  # near W, b with Z W + b = x: the perfect fit
    out = subprocess.run([sys.executable, "-m", "kernelgda", "analyze", str(path), "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    g = res["generator"]
    assert g["kind"] == "Affine" and g["num_params"] == 3 and g["gradient_kind"] == "perfect-gradient"
    z = np.array([[1.0, 0.2], [0.3, 1.0], [-0.5, 0.4]])
    np.testing.assert_allclose(sorted(g["tangent_kernel_spectrum"]), np.linalg.eigvalsh(z @ z.T + 1.0),
                               rtol=1e-10, err_msg="(Z Z^T + 1 1^T), theory section 12")
    closed = kg.generator_rates.eigenvalues(np.linalg.eigvalsh(z @ z.T + 1.0), p=1.0, q=1.0,
                                            eta_d=0.1, eta_g=0.2, lam=1.0, sigma=0.5)
    assert abs(res["linearization"]["generator_rate"] - float(closed.generator_rate)) < 1e-9, \
        "isolated clusters (8 sigma apart): the closed form through Theta, theory section 12"


def test_mmd2_hessian_against_second_differences():
    x = np.array([[-1.0], [0.3], [1.5]])
    p = q = np.full(3, 1 / 3)
    gan = kg.KernelGAN(x, p, kg.Gaussian(0.6), lam=1.0)
    gen = MLP(np.array([[0.2, -1.0], [1.0, 0.4], [-0.6, 0.8]]), 1, (2,), "tanh", seed=0)
    eq = kg.find_equilibrium(gan, gen, q)
    assert eq.converged

    def obj(th):
        return _gauss_mmd2(_mlp_forward(th, gen.z, (2,), 1, np.tanh), x, p, q, 0.6)

    h, num = 1e-4, gen.num_params
    eye = np.eye(num)
    fd = np.array([[(obj(eq.theta + h * (eye[i] + eye[j])) - obj(eq.theta + h * (eye[i] - eye[j]))
                     - obj(eq.theta - h * (eye[i] - eye[j])) + obj(eq.theta - h * (eye[i] + eye[j])))
                    / (4 * h * h) for j in range(num)] for i in range(num)])
    np.testing.assert_allclose(kg.equilibrium.mmd2_hessian(gan, eq), fd, atol=1e-6,
                               err_msg="second differences of MMD^2 written in the test")
    # free points: the same function without a generator
    eq_pts = kg.find_equilibrium(gan, eq.y, q)
    fd_pts = np.array([[(_gauss_mmd2(eq_pts.y + h * (e1 + e2).reshape(3, 1), x, p, q, 0.6)
                         - _gauss_mmd2(eq_pts.y + h * (e1 - e2).reshape(3, 1), x, p, q, 0.6)
                         - _gauss_mmd2(eq_pts.y - h * (e1 - e2).reshape(3, 1), x, p, q, 0.6)
                         + _gauss_mmd2(eq_pts.y - h * (e1 + e2).reshape(3, 1), x, p, q, 0.6)) / (4 * h * h)
                        for e2 in np.eye(3)] for e1 in np.eye(3)])
    np.testing.assert_allclose(kg.equilibrium.mmd2_hessian(gan, eq_pts), fd_pts, atol=1e-6)


def test_pull_back_moves_the_points_by_e(rng):
    gen = MLP(rng.standard_normal((4, 2)), 2, (5,), "softplus", seed=1)
    e = 1e-7 * rng.standard_normal((4, 2))
    t = gen.pull_back(gen.theta, e)
    moved = gen.points(gen.theta + t) - gen.points(gen.theta)
    # first order: Y(theta + J^+ e) - Y = e, up to O(|t|^2) and the rounding of the difference
    np.testing.assert_allclose(moved, e, rtol=1e-4, atol=1e-11)


def test_simulate_batch_refuses_a_generator_in_one_line(rng):
    gen = Affine(rng.standard_normal((2, 1)), 1)
    gan = kg.KernelGAN([[0.0], [1.0]], 0.5, kg.Gaussian(0.5), lam=1.0)
    for y0 in (gen, [gen, gen]):
        with pytest.raises(ValueError, match="free points only"):
            kg.simulate_batch(gan, kg.GDA(0.1, 0.1), y0, 0.5, 10)


# -- scenario files name the network kernels of theory section 13 -------------------------------

def test_scenario_ntk_kernel_and_its_refusals():
    from kernelgda.scenario import parse_scenario
    base = {"lam": 2.0, "true": {"points": [[0.3]]}, "generated": {"on_true": True, "weights": 0.8},
            "gda": {"eta_d": 0.2, "eta_g": 0.05}}
    s = parse_scenario(dict(base, kernel={"kind": "ntk", "sigma_b": 0.5}))
    assert s.gan.kernel == kg.NTK("erf", sigma_w=1.0, sigma_b=0.5)
    eq = kg.find_equilibrium(s.gan, s.y0, s.q)
    # theory section 13: with q = 0.8 the analytic NTK's fixed point is 0.3181, not the true point
    assert abs(float(eq.y[0, 0]) - 0.3181) < 5e-5
    assert parse_scenario(dict(base, kernel={"kind": "erf_nngp", "sigma_w": 2.0})).gan.kernel == \
        kg.ErfNNGP(sigma_w=2.0, sigma_b=0.0)
    for tab, match in (({"kind": "ntk", "sigma": 1.0}, "kernel.sigma does not apply"),
                       ({"kind": "erf_nngp", "activation": "relu"}, "kernel.activation applies only"),
                       ({"kind": "gaussian", "sigma": 1.0, "sigma_w": 1.0}, "kernel.sigma_w applies only"),
                       ({"kind": "ntk", "activation": "tanh"}, "kernel.activation")):
        with pytest.raises(ValueError, match=match):
            parse_scenario(dict(base, kernel=tab))


@pytest.mark.slow
@pytest.mark.parametrize("mode, options", [("extragradient", {}), ("optimistic", {}),
                                           ("momentum", {"beta": 0.3}), ("alternating", {"d_steps": 2})])
def test_generator_linearization_predicts_every_rule(mode, options):
    """The (B, t) map of theory section 12 through each rule's step matrix, against exact runs."""
    gan, eq = _perfect_gradient_case()
    gda = kg.GDA(0.1, 0.2, mode=mode, **options)
    lin = kg.linearize(gan, eq, gda)
    e0 = 1e-6 * np.array([[1.0], [-0.7], [0.4]])
    start = eq.generator.with_theta(eq.theta + eq.generator.pull_back(eq.theta, e0))
    traj = kg.simulate(gan, gda, start, eq.q, 1500, start=eq, history_tol=0)
    measured = traj.rate(eq.y)
    assert lin.stable and abs(measured - lin.generator_rate) < 1e-5, (mode, measured, lin.generator_rate)
