"""The ReLU NNGP kernel (theory section 10): values, derivatives, fixed points, linearization.

Oracles: the layer-by-layer recursion written independently in ``tests/oracles.py``
(:func:`oracles.nngp_direct`), a Monte Carlo estimate with wide random ReLU networks,
complex-step and central finite-difference derivatives.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.kernels.arccos import one_minus_j
from kernelgda.scenario import parse_scenario
from kernelgda.status import Status

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

SETTINGS = [(1, 0.0, 2), (2, 0.0, 3), (2, 0.3, 2), (3, 1.0, 1), (2, 0.5, 4)]
IDS = [f"depth{L}-bias{b}-d{d}" for L, b, d in SETTINGS]


def _points(rng, d, bias):
    """Random pairs, plus a coincident pair and two parallel ones (angle 0 when bias = 0)."""
    u = rng.normal(size=(4, d))
    v = np.concatenate([rng.normal(size=(2, d)), u[:1], 1.7 * u[1:2]])
    return u, v


@pytest.mark.parametrize(("depth", "bias", "d"), SETTINGS, ids=IDS)
def test_values_match_layer_by_layer_recursion(depth, bias, d, rng):
    k = kg.NNGP(depth=depth, bias=bias)
    u, v = _points(rng, d, bias)
    want = np.array([[oracles.nngp_direct(a, b, depth, bias).real for b in v] for a in u])
    np.testing.assert_allclose(k(u, v), want, rtol=1e-12, atol=1e-14,
                               err_msg="NNGP value vs the layer recursion of theory section 10")
    # The diagonal: S_l(u, u) = |u|^2 / d + (l + 1) bias^2.
    np.testing.assert_allclose(np.diag(k(u, u)), (u * u).sum(1) / d + (depth + 1) * bias**2,
                               rtol=1e-13)


@pytest.mark.slow
@pytest.mark.parametrize(("depth", "bias"), [(1, 0.0), (2, 0.3)])
def test_values_match_monte_carlo_wide_network(depth, bias):
    """Wide random ReLU networks, weight variance 2 (1 on the input layer: S_0 = u.v / d)."""
    rng = np.random.default_rng(5)
    d, width, reps = 3, 1500, 24
    u = rng.normal(size=(4, d))
    est = np.zeros((4, 4))
    for _ in range(reps):
        h = u @ rng.normal(size=(d, width)) / np.sqrt(d) + bias * rng.normal(size=width)
        for _ in range(depth - 1):
            h = np.maximum(h, 0) @ rng.normal(size=(width, width)) * np.sqrt(2 / width) \
                + bias * rng.normal(size=width)
        act = np.maximum(h, 0)
        est += 2 * act @ act.T / width + bias**2
    est /= reps
    k = kg.NNGP(depth=depth, bias=bias)(u, u)
    # Standard error ~ |K| / sqrt(width * reps / 2) ~ 0.6 %; 4 % leaves ~6 standard errors.
    np.testing.assert_allclose(est, k, rtol=0.04, atol=0.04 * np.abs(k).max(),
                               err_msg="NNGP vs Monte Carlo over wide ReLU networks")


@pytest.mark.parametrize(("depth", "bias", "d"), SETTINGS, ids=IDS)
def test_gradient_matches_complex_step(depth, bias, d, rng):
    k = kg.NNGP(depth=depth, bias=bias)
    u, v = _points(rng, d, bias)
    got = k.grad(u, v)
    for a in range(u.shape[0]):
        for b in range(v.shape[0]):
            want = oracles.kernel_grad_u(k, u[a], v[b])
            # Complex step: exact to rounding; at coincident points central differences ~1e-9.
            np.testing.assert_allclose(got[a, b], want, rtol=1e-8, atol=1e-9,
                                       err_msg=f"NNGP grad vs complex step, pair {a},{b}")


def _fd_kink(fun, x, h=1e-3):
    """Central differences with one Richardson step, for a point where the angle t = 0.

    There the kernel is C^2 but not C^3 (the ``t^3 / 3`` term), so central differences err
    by ``O(h)``; ``2 D(h/2) - D(h)`` removes that term and leaves ``O(h^2) ~ 1e-6``, with the
    complex-step gradients at distance ``>= h / 2`` accurate to ~1e-13.
    """
    return 2.0 * oracles.fd_jacobian(fun, x, h / 2) - oracles.fd_jacobian(fun, x, h)


@pytest.mark.parametrize(("depth", "bias", "d"), SETTINGS, ids=IDS)
def test_hessian_and_mixed_match_finite_differences(depth, bias, d, rng):
    k = kg.NNGP(depth=depth, bias=bias)
    u, v = _points(rng, d, bias)
    hess, mixed = k.hessian(u, v), k.mixed(u, v)
    for a in range(u.shape[0]):
        for b in range(v.shape[0]):
            def grad_u(x, b=b):
                return oracles.kernel_grad_u(k, x, v[b])

            def grad_v(x, a=a):
                return oracles.kernel_grad_u(k, u[a], x)

            # Angle t = 0 at u = v, and on the parallel pair when bias = 0 (_points).
            if (a, b) == (0, 2) or (bias == 0 and (a, b) == (1, 3)):
                fd_h, fd_m, tol = _fd_kink(grad_u, u[a]), _fd_kink(grad_v, v[b]), 1e-5
            else:
                # Differences of complex-step gradients: error ~h^2 + 1e-16 / h ~ 1e-10.
                fd_h = oracles.fd_jacobian(grad_u, u[a], 1e-6)
                fd_m = oracles.fd_jacobian(grad_v, v[b], 1e-6)
                tol = 1e-8
            np.testing.assert_allclose(hess[a, b], fd_h, rtol=0, atol=tol,
                                       err_msg=f"NNGP hessian vs finite differences, pair {a},{b}")
            np.testing.assert_allclose(mixed[a, b], fd_m, rtol=0, atol=tol,
                                       err_msg=f"NNGP mixed vs finite differences, pair {a},{b}")


def test_coincident_points_hessian_vanishes_mixed_does_not():
    """Theory section 10: depth 2, bias 0.3, at u = v the Hessian in u is 0 while C is not."""
    k = kg.NNGP(depth=2, bias=0.3)
    u = np.array([[0.4, -1.1, 0.7]])
    np.testing.assert_allclose(k.hessian(u, u), 0.0, atol=1e-15)
    np.testing.assert_allclose(k.mixed(u, u)[0, 0], np.eye(3) / 3, rtol=1e-13)
    # Continuity: the Hessian an offset 1e-9 away differs from it by O(1e-9).
    for off in (1e-6, 1e-9, 1e-12):
        near = k.hessian(u, u + off * np.array([[1.0, 2.0, -0.5]]))
        assert np.abs(near).max() < 10 * off, f"Hessian not continuous at u = v (offset {off})"


def test_one_minus_j_series_and_closed_form_agree():
    t = np.array([1e-8, 1e-3, 0.1, 0.49, 0.5, 0.51, 2.0, np.pi])
    # Oracle for small t: the Taylor series of 1 - (sin t + (pi - t) cos t) / pi, derived by
    # hand from those of sin and cos (theory section 10: pi - pi t^2 / 2 + t^3 / 3 + ...);
    # the first omitted term, t^8 / 40320, is < 1e-10 relative at t = 0.1.
    small = t[:3]
    series = (small**2 / 2 - small**3 / (3 * np.pi) - small**4 / 24 + small**5 / (30 * np.pi)
              + small**6 / 720 - small**7 / (840 * np.pi))
    np.testing.assert_allclose(one_minus_j(small), series, rtol=1e-9)
    big = t[3:]
    direct = 1 - (np.sin(big) + (np.pi - big) * np.cos(big)) / np.pi
    np.testing.assert_allclose(one_minus_j(big), direct, rtol=1e-13)


def test_not_radial_has_no_curvature_or_gradient_bound():
    k = kg.NNGP(depth=2, bias=0.1)
    assert not k.radial
    with pytest.raises(ValueError, match="not radial.*isolated closed forms"):
        _ = k.curvature
    with pytest.raises(ValueError, match="no global gradient bound"):
        _ = k.grad_bound


def test_bad_parameters_and_origin():
    with pytest.raises(ValueError, match="depth"):
        kg.NNGP(depth=0)
    with pytest.raises(ValueError, match="bias"):
        kg.NNGP(bias=-0.1)
    with pytest.raises(ValueError, match="origin"):
        kg.NNGP(depth=2, bias=0.0).grad([[0.0, 0.0]], [[1.0, 0.0]])
    assert kg.make_kernel("nngp", depth=3, bias=0.2).params() == {"kind": "nngp", "depth": 3, "bias": 0.2}


def test_gram_matrix_is_symmetric_psd(rng):
    k = kg.NNGP(depth=3, bias=0.4)
    x = rng.normal(size=(12, 3))
    g = k(x, x)
    np.testing.assert_allclose(g, g.T, rtol=1e-13)
    assert np.linalg.eigvalsh(g).min() > -1e-12 * np.abs(g).max()


def _nngp_gan(rng, lam=0.5):
    x = np.array([[1.0, 0.2], [-0.4, 1.1], [0.3, -0.9]])
    return kg.KernelGAN(x, [1.0, 0.7, 0.5], kg.NNGP(depth=2, bias=0.3), lam=lam)


def test_find_equilibrium_perfect_fit_and_newton_jacobian(rng):
    gan = _nngp_gan(rng)
    eq = kg.find_equilibrium(gan, gan.x_true + 0.05 * rng.normal(size=(3, 2)), gan.p_true)
    assert eq.status is Status.CONVERGED, eq.message
    # Oracle: naive residual grad f*(y_j) from the complex-step / FD gradients.
    g = (oracles.naive_grad_sum(gan.kernel, eq.y, gan.x_true, gan.p_true)
         - oracles.naive_grad_sum(gan.kernel, eq.y, eq.y, eq.q))
    np.testing.assert_allclose(g, 0.0, atol=1e-9, err_msg="naive residual at the NNGP fixed point")
    np.testing.assert_allclose(eq.y, gan.x_true, atol=1e-8, err_msg="Y* = X with q = p (theory section 3)")


def test_newton_jacobian_matches_finite_differences(rng):
    """The Jacobian of G uses d_u d_v^T K (not -hess): checked against central differences."""
    from kernelgda.equilibrium import _jacobian, stationarity  # noqa: PLC0415 - white-box check

    gan = _nngp_gan(rng)
    y = rng.normal(size=(3, 2))
    q = np.array([0.6, 0.9, 0.4])
    fd = oracles.fd_jacobian(lambda z: stationarity(gan, z.reshape(3, 2), q).ravel(), y.ravel(), 1e-6)
    np.testing.assert_allclose(_jacobian(gan, y, q), fd, rtol=0, atol=1e-8,
                               err_msg="Newton Jacobian vs finite differences of G")


def test_linearize_uses_mixed_and_hessian(rng):
    gan = _nngp_gan(rng)
    eq = kg.find_equilibrium(gan, gan.x_true, gan.p_true)
    lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.1))
    d = 2
    # C_lj = d_u d_v^T K(u_l, y_j) (theory section 4), from the finite-difference oracle.
    for l in range(3):
        for j in range(3):
            def grad_v(x, l=l):
                return oracles.kernel_grad_u(gan.kernel, eq.y[l], x)

            if l == j:  # u = v: angle 0, where only the Richardson-corrected differences hold
                fd, tol = _fd_kink(grad_v, eq.y[j]), 1e-5
            else:
                fd, tol = oracles.fd_jacobian(grad_v, eq.y[j], 1e-6), 1e-8
            np.testing.assert_allclose(lin.blocks["C"][l * d:(l + 1) * d, j * d:(j + 1) * d], fd,
                                       rtol=0, atol=tol, err_msg=f"C block {l},{j}")
    assert np.all(np.isfinite(lin.eigenvalues))


def test_isolated_closed_forms_refuse_nngp():
    with pytest.raises(ValueError, match="not radial"):
        _ = kg.NNGP().curvature


def test_scenario_file_reads_nngp():
    s = parse_scenario({"true": {"points": [[1.0, 0.0], [0.0, 1.0]]}, "generated": {"on_true": True},
                        "kernel": {"kind": "nngp", "depth": 3, "bias": 0.25},
                        "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}})
    assert s.gan.kernel == kg.NNGP(depth=3, bias=0.25)
    assert s.params()["kernel"] == "nngp" and s.params()["depth"] == 3
    with pytest.raises(ValueError, match="kernel.sigma"):
        parse_scenario({"true": {"points": [[1.0]]}, "generated": {"on_true": True},
                        "kernel": {"kind": "nngp", "sigma": 1.0},
                        "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}})
    with pytest.raises(ValueError, match="kernel.depth"):
        parse_scenario({"true": {"points": [[1.0]]}, "generated": {"on_true": True},
                        "kernel": {"kind": "gaussian", "sigma": 1.0, "depth": 2},
                        "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}})


def test_analyze_cli_on_an_nngp_scenario(capsys, tmp_path):
    from kernelgda.cli import main  # noqa: PLC0415

    f = tmp_path / "nngp.toml"
    f.write_text('name = "nngp"\nlam = 0.5\n'
                 '[true]\npoints = [[1.0, 0.2], [-0.4, 1.1]]\nweights = [1.0, 0.6]\n'
                 '[generated]\non_true = true\noffset = 0.03\n'
                 '[kernel]\nkind = "nngp"\ndepth = 2\nbias = 0.3\n'
                 '[gda]\neta_d = 0.1\neta_g = 0.1\n')
    code = main(["analyze", str(f)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "kernel nngp depth = 2 bias = 0.3" in out and "fixed point: converged" in out
    assert "regime" in out


def test_mass_deficit_fixed_point_and_hessian_of_fstar():
    """A fixed point with f* != 0 (q = 0.8 p): the H blocks of theory section 4 against
    Richardson-corrected differences of grad f* from the oracle gradients."""
    x = np.array([[1.0, 0.2], [-0.4, 1.1], [0.3, -0.9]])
    p = np.array([1.0, 0.7, 0.5])
    gan = kg.KernelGAN(x, p, kg.NNGP(depth=2, bias=0.3), lam=0.5)
    eq = kg.find_equilibrium(gan, x, 0.8 * p)
    assert eq.status is Status.CONVERGED, eq.message
    assert np.abs(eq.y - x).max() > 0.1, "a deficit moves the points off the data"

    def grad_fstar(pt):
        return (oracles.naive_grad_sum(gan.kernel, pt[None, :], x, p)
                - oracles.naive_grad_sum(gan.kernel, pt[None, :], eq.y, eq.q))[0] / gan.lam

    lin = kg.linearize(gan, eq, kg.GDA(0.1, 0.1))
    for j in range(3):
        np.testing.assert_allclose(grad_fstar(eq.y[j]), 0.0, atol=1e-9, err_msg="grad f*(y_j*) = 0")
        # y_j* is a centre of f* (angle 0 with itself): Richardson-corrected differences.
        np.testing.assert_allclose(lin.blocks["H"][2 * j:2 * j + 2, 2 * j:2 * j + 2],
                                   _fd_kink(grad_fstar, eq.y[j]), rtol=0, atol=1e-5,
                                   err_msg=f"H block {j} vs finite differences of grad f*")
