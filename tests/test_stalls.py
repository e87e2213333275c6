"""Stall points are not fixed points (theory section 10): find_equilibrium and ``analyze``.

Oracle: where the data's gradient has underflowed, the true points' kernel sections are
evaluated directly (theory section 1 formulas in ``tests/oracles.py``) to confirm that every
term is below rounding; genuine fixed points are confirmed by the naive residual.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.cli import main
from kernelgda.status import Status

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

STALL_KERNELS = [
    kg.Gaussian(sigma=0.3),
    kg.RationalQuadratic(sigma=0.3, alpha=1.0),   # heavy tail: Newton walks away, never meets tol
    kg.RationalQuadratic(sigma=0.3, alpha=5.0),   # lighter tail: meets tol ~50 sigma out
    kg.Multiscale(sigmas=(0.3, 1.0), scale_weights=(1.0, 0.1)),
]


def test_issue_example_is_a_stall_not_a_fixed_point():
    gan = kg.KernelGAN(x_true=[[0.0, 0.0]], p_true=1.0, kernel=kg.Gaussian(sigma=0.3), lam=0.5)
    eq = kg.find_equilibrium(gan, y0=[[0.9, 0.0]], q=0.8)
    assert eq.status is Status.VANISHING_GRADIENT, eq.message
    assert not eq.converged
    assert "vanishing gradient" in eq.message
    # Oracle: at the end point the data's gradient is far below the stopping tolerance, and
    # the only genuine fixed point (Y* = x) is 8 sigma away.
    r = float(np.linalg.norm(eq.y[0]))
    assert r > 6 * 0.3, f"stall expected far from the data, got |y| = {r}"
    g = oracles.kernel_grad_u(gan.kernel, eq.y[0], gan.x_true[0])
    assert np.linalg.norm(g) < 1e-9, "finite gradient: not an underflow stall"
    with pytest.raises(ValueError, match="not a fixed point.*vanishing"):
        kg.linearize(gan, eq, kg.GDA(0.1, 0.1))


@pytest.mark.parametrize("kernel", STALL_KERNELS, ids=lambda k: f"{k.name}")
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("start", [1.5, 4.0, 30.0])
def test_far_starts_give_vanishing_gradient(kernel, d, start, rng):
    sigma = kernel.length_scale
    x = rng.normal(scale=0.2 * sigma, size=(2, d))
    gan = kg.KernelGAN(x, [1.0, 0.6], kernel, lam=0.5)
    direction = rng.normal(size=d)
    y0 = x[0] + start * sigma * direction / np.linalg.norm(direction) + 2 * sigma * (start > 2)
    eq = kg.find_equilibrium(gan, y0[None, :], 0.8)
    assert eq.status is Status.VANISHING_GRADIENT, f"start {start} sigma: {eq.message}"
    # The stall is beyond the start: Newton moved away from the data, not toward it.
    dist = np.linalg.norm(eq.y[0][None, :] - x, axis=1).min()
    assert dist >= np.linalg.norm(y0[None, :] - x, axis=1).min() - 1e-12


@pytest.mark.parametrize("kernel", [kg.Gaussian(sigma=0.5), kg.RationalQuadratic(sigma=0.4, alpha=0.7),
                                    kg.Multiscale(sigmas=(0.3, 1.0), scale_weights=(1.0, 0.2))],
                         ids=lambda k: k.name)
@pytest.mark.parametrize("d", [1, 2, 4])
def test_genuine_fixed_points_stay_converged(kernel, d, rng):
    sigma = kernel.length_scale
    x = rng.normal(scale=2 * sigma, size=(3, d))
    p = np.array([1.0, 0.8, 0.6])
    gan = kg.KernelGAN(x, p, kernel, lam=0.5)
    eq = kg.find_equilibrium(gan, x + 0.05 * sigma * rng.normal(size=x.shape), p)
    assert eq.status is Status.CONVERGED and eq.converged, eq.message
    g = (oracles.naive_grad_sum(kernel, eq.y, x, p) - oracles.naive_grad_sum(kernel, eq.y, eq.y, p))
    np.testing.assert_allclose(g, 0.0, atol=1e-11, err_msg="naive residual of theory section 3")


@pytest.mark.parametrize("half_gap", [1.5, 3.0, 5.0, 6.0])
def test_point_between_far_apart_true_points_is_a_fixed_point(half_gap):
    """Symmetric cancellation, not underflow: up to ~6 sigma from each true point the data's
    gradient terms are still 1e4 times the tolerance."""
    sigma = 0.3
    gan = kg.KernelGAN([[-half_gap * sigma, 0.0], [half_gap * sigma, 0.0]], [1.0, 1.0],
                       kg.Gaussian(sigma=sigma), lam=0.5)
    eq = kg.find_equilibrium(gan, [[0.02 * sigma, 0.01 * sigma]], 0.8)
    assert eq.status is Status.CONVERGED, eq.message
    np.testing.assert_allclose(eq.y, 0.0, atol=1e-12 * sigma, err_msg="midpoint by symmetry")
    # Oracle: each true point's pull on the midpoint is far above the stopping tolerance.
    pull = np.linalg.norm(oracles.kernel_grad_u(gan.kernel, eq.y[0], gan.x_true[0]))
    assert pull > 1e4 * kg.equilibrium.TOL


def test_lone_far_point_next_to_a_matched_one_is_a_stall():
    """A second generated point far from the data stalls even though the first one fits."""
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.5)
    eq = kg.find_equilibrium(gan, [[0.0], [9.0]], [1.0, 0.2])
    assert eq.status is Status.VANISHING_GRADIENT and "point 1" in eq.message


def test_lam_zero_stall_is_reported_not_raised():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.0)
    eq = kg.find_equilibrium(gan, [[3.0]], 1.0)
    assert eq.status is Status.VANISHING_GRADIENT


def test_equilibrium_accepts_the_former_converged_keyword():
    eq = kg.Equilibrium(y=np.zeros((1, 1)), q=np.ones(1), residual=0.0, iterations=0,
                        converged=True, message="isolated")
    assert eq.status is Status.CONVERGED and eq.converged
    eq = kg.Equilibrium(np.zeros((1, 1)), np.ones(1), 1.0, 3, False, "failed")
    assert eq.status is Status.NOT_CONVERGED and not eq.converged
    with pytest.raises(ValueError, match="status"):
        kg.Equilibrium(y=np.zeros((1, 1)), q=np.ones(1), residual=0.0, iterations=0, message="x")


def _scenario(tmp_path, kind, extra, sigma, start, dim):
    point = [start * sigma] + [0.0] * (dim - 1)
    f = tmp_path / f"{kind}.toml"
    f.write_text(f"""name = "stall"
lam = 0.5
[true]
points = [{[0.0] * dim}]
weights = 1.0
[generated]
points = [{point}]
weights = 0.8
[kernel]
kind = "{kind}"
sigma = {sigma}
{extra}
[gda]
eta_d = 0.1
eta_g = 0.1
""")
    return str(f)


@pytest.mark.parametrize(("kind", "extra", "start", "dim"), [
    ("gaussian", "", 3.0, 2), ("gaussian", "", 1.5, 1), ("gaussian", "", 30.0, 3),
    ("rational_quadratic", "alpha = 1.0", 2.0, 2), ("rational_quadratic", "alpha = 5.0", 20.0, 1),
])
def test_analyze_exits_1_on_a_stall(capsys, tmp_path, kind, extra, start, dim):
    code = main(["analyze", _scenario(tmp_path, kind, extra, 0.3, start, dim)])
    out, err = capsys.readouterr()
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kernelgda: vanishing_gradient:"), err
    assert "spectrum" not in out


def test_analyze_still_exits_0_at_a_fixed_point(capsys, tmp_path):
    code = main(["analyze", _scenario(tmp_path, "gaussian", "", 0.3, 0.5, 2)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "fixed point: converged" in out and "spectrum" in out
