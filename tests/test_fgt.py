"""The fast Gauss transform of the discriminator history (``kg.FastGaussTransform``).

Oracles: the exact direct sum by a double loop over points and centres
(``oracles.naive_grad_sum``, the kernel gradient differentiated by hand), with the history's
weights decayed and mixed by the test itself; the exact path of ``kg.simulate``. The
transform's certified bound must hold at every point, and must itself stay within the
requested tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.discriminator.fgt import MAX_DIM, transform_order

from .oracles import naive_grad_sum

pytestmark = pytest.mark.usefixtures("strict_float")

#: Rounding of the sums (not part of the certified truncation bound): relative to grad_bound
#: times the absolute coefficient mass, a few hundred eps for the Hermite recurrences and sums.
ROUND = 1e-13


def _grad_bound(kernel):
    if isinstance(kernel, kg.Gaussian):
        return math.exp(-0.5) / kernel.sigma
    return sum(w * math.exp(-0.5) / s for s, w in zip(kernel.sigmas, kernel.scale_weights, strict=True))


def _feed(disc, rng, d, spread, cluster, num_slices=12, n=6, escaped=False):
    """Add ``num_slices`` slices with decays between them; return every centre with its current
    weight (decayed by the test), the true-point coefficient, and the points to evaluate."""
    centres, weights = [], []
    c = 0.0
    for s in range(num_slices):
        y = rng.normal(size=(n, d)) * (0.1 * spread if cluster else spread)
        if escaped and s % 4 == 3:
            y[:2] += 1e3 * spread  # two centres far from everything else
        w = rng.normal(size=n)
        disc.decay(0.9)
        weights = [0.9 * v for v in weights]
        c *= 0.9
        disc.add_true(0.2)
        c += 0.2
        disc.add_slice(y, w)
        centres.append(y)
        weights.append(w)
    pts = rng.normal(size=(7, d)) * spread
    if escaped:
        pts[:2] += 1e3 * spread
    return np.concatenate(centres), np.concatenate(weights), c, pts


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("ratio", [0.05, 1.0, 10.0])
@pytest.mark.parametrize("kind", ["clustered", "spread", "escaped"])
def test_gradient_error_within_certified_bound(d, ratio, kind, rng):
    # Widths 0.05-10 times the spread of the centres; clustered (within 0.1 spread), spread, and
    # with centres and points 1e3 spreads away (escaped); Gaussian and multiscale kernels.
    spread = 1.3
    x = rng.normal(size=(3, d)) * spread
    p = np.array([1.0, 0.5, 2.0])
    for kernel in (kg.Gaussian(sigma=ratio * spread),
                   kg.Multiscale(sigmas=(ratio * spread, 3 * ratio * spread), scale_weights=(1.0, 0.4))):
        for tol in (1e-6, 1e-10):
            disc = kg.FastGaussTransform(tol).build(kernel, x, p, 6)
            z, w, c, pts = _feed(disc, rng, d, spread, kind == "clustered", escaped=kind == "escaped")
            ref = c * naive_grad_sum(kernel, pts, x, p) + naive_grad_sum(kernel, pts, z, w)
            err = np.sqrt(((disc.grad(pts) - ref) ** 2).sum(axis=1)).max()
            mass = np.abs(w).sum()
            g = _grad_bound(kernel)
            assert disc.bound <= tol * g * mass * (1 + 1e-12), \
                "certified bound exceeds tol * grad_bound * history mass"
            assert err <= disc.bound + ROUND * g * (mass + c * p.sum()), \
                f"{kernel.name} d={d} tol={tol}: error {err:.2e} above the bound {disc.bound:.2e} " \
                "(oracle: direct double-loop sum)"


def test_two_functions_mixed_within_bound(rng):
    # Two functions (optimistic / momentum GDA) mixed by 2x2 maps between slices: the gradient
    # of f_0 and of f_0 - f_1 against the direct sum with weights mixed by the test.
    d, n = 2, 5
    kernel = kg.Gaussian(sigma=0.6)
    x = rng.normal(size=(2, d))
    p = np.array([1.0, 1.0])
    disc = kg.FastGaussTransform(1e-9).build(kernel, x, p, n, num_funcs=2)
    t = np.array([[0.9, -0.05], [-0.3, 0.0]])
    centres, weights, c = [], np.zeros((0, 2)), np.zeros(2)
    for _ in range(15):
        disc.mix(t)
        weights = weights @ t.T
        c = t @ c
        disc.add_true(np.array([0.1, 1.0]))
        c += [0.1, 1.0]
        y, w = rng.normal(size=(n, d)), rng.normal(size=(n, 2))
        disc.add_slice(y, w)
        centres.append(y)
        weights = np.concatenate([weights, w])
    z = np.concatenate(centres)
    pts = rng.normal(size=(6, d))
    for combo in ([1.0, 0.0], [1.0, -1.0]):
        ref = ((c @ combo) * naive_grad_sum(kernel, pts, x, p)
               + naive_grad_sum(kernel, pts, z, weights @ combo))
        got = disc.grad(pts, np.array(combo))
        err = np.sqrt(((got - ref) ** 2).sum(axis=1)).max()
        # bound: any sum_i b_i f_i with |b_i| <= 1, so the combination (1, -1) within twice it
        assert err <= 2 * disc.bound + ROUND * _grad_bound(kernel) * np.abs(weights).sum() * 2, \
            f"combination {combo}: error {err:.2e} above the bound (oracle: direct double-loop sum)"


def test_box_budget_overflow_sums_exactly(rng):
    # A memory limit that leaves room for 16 boxes: centres beyond them are summed exactly
    # (held as history slices); the gradient still agrees with the direct sum within the bound.
    d = 2
    kernel = kg.Gaussian(sigma=0.1)
    x = np.zeros((1, d))
    disc = kg.FastGaussTransform(1e-8).build(kernel, x, np.ones(1), 6, max_memory=1000)
    z, w, c, pts = _feed(disc, rng, d, 2.0, False)
    assert disc.num_boxes == 16 and disc.num_slices > 0, "expected a full box budget and exact slices"
    ref = c * naive_grad_sum(kernel, pts, x, np.ones(1)) + naive_grad_sum(kernel, pts, z, w)
    err = np.abs(disc.grad(pts) - ref).max()
    assert err <= disc.bound + ROUND * _grad_bound(kernel) * (np.abs(w).sum() + c), \
        "error above the bound with exact overflow (oracle: direct double-loop sum)"


def test_order_grows_with_accuracy_and_certifies_tol():
    # The order p is the smallest whose certified relative error is within tol: p - 1 is not.
    for d in range(1, MAX_DIM + 1):
        orders = []
        for tol in (1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-15):
            p, cut, rel = transform_order(tol, d)
            assert rel <= tol, "certified relative error above tol"
            assert cut * math.exp(-0.5 * cut * cut) <= 0.01 * tol * math.exp(-0.5) * (1 + 1e-9), \
                "cutoff radius does not bound the far boxes' gradient (closed form r exp(-r^2/2))"
            orders.append(p)
        assert orders == sorted(orders), "order should not decrease with the accuracy"


@pytest.mark.slow  # ~4 s: 2000-step runs, exact and transformed
@pytest.mark.parametrize("d, lam, kernel", [
    (1, 0.0, kg.Multiscale(sigmas=(0.4, 1.2))), (2, 0.0, kg.Gaussian(0.8)), (2, 0.3, kg.Gaussian(0.8)),
    (3, 0.3, kg.Gaussian(0.8))])
def test_runs_agree_with_exact_path(d, lam, kernel):
    # 2000 steps, 8 generated points on 4 true points: the transform's run against the exact
    # one. Each step's gradient is off by at most the certified bound, which moves a point by at
    # most eta_g q bound; over T steps (first order) at most T eta_g q bound. With lam > 0 the
    # runs agree to tol relative to the points' extent (measured: 0.04-0.3 tol); with lam = 0
    # nothing damps the differences (measured up to 23 tol in 1-D, 0.5 tol in 2-D).
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, d))
    y0 = x[np.arange(8) % 4] + 0.2 * rng.normal(size=(8, d))
    gan, gda = kg.KernelGAN(x, 1.0, kernel, lam=lam), kg.GDA(0.1, 0.05)
    exact = kg.simulate(gan, gda, y0, 0.5, 2000)
    for tol in (1e-6, 1e-10):
        fast = kg.simulate(gan, gda, y0, 0.5, 2000, discriminator=kg.FastGaussTransform(tol))
        assert fast.status == exact.status, "status differs from the exact path"
        dev = np.abs(fast.y - exact.y).max()
        assert dev <= 2000 * 0.05 * 0.5 * fast.truncation_bound, \
            f"tol={tol}: deviation {dev:.2e} above the accumulated certified bound (oracle: exact path)"
        if lam > 0:
            assert dev <= tol * np.abs(exact.y).max(), \
                f"tol={tol}: deviation {dev:.2e} above tol times the extent (oracle: exact path)"


@pytest.mark.parametrize("mode, kw", [("optimistic", {}), ("momentum", {"beta": 0.3}),
                                      ("extragradient", {}), ("simultaneous", {})])
def test_every_rule_runs_on_the_transform(mode, kw):
    # 300 steps of each rule against the exact path (the two-function rules mix the moments).
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 2))
    y0 = x + 0.2 * rng.normal(size=(3, 2))
    gan, gda = kg.KernelGAN(x, 1.0, kg.Gaussian(0.7), lam=0.3), kg.GDA(0.1, 0.05, mode=mode, **kw)
    exact = kg.simulate(gan, gda, y0, 1.0, 300)
    fast = kg.simulate(gan, gda, y0, 1.0, 300, discriminator=kg.FastGaussTransform(1e-10))
    np.testing.assert_allclose(fast.y, exact.y, rtol=0, atol=1e-10 * np.abs(exact.y).max(),
                               err_msg=f"{mode}: transform run vs exact kg.simulate")
    assert 0 < fast.truncation_bound, "the certified bound should be reported"


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel": kg.RationalQuadratic(0.5)}, "gaussian or multiscale"),
    ({"kernel": kg.Laplacian(0.5)}, "gaussian or multiscale"),
    ({"d": 4}, "d <= 3"),
    ({"history_tol": 1e-8}, "history_tol"),
])
def test_refusals(kwargs, match):
    d = kwargs.get("d", 2)
    gan = kg.KernelGAN(np.zeros((1, d)), 1.0, kwargs.get("kernel", kg.Gaussian(0.5)), lam=0.1)
    with pytest.raises(ValueError, match=match):
        kg.simulate(gan, kg.GDA(0.1, 0.1), np.ones((1, d)), 1.0, 5,
                    discriminator=kg.FastGaussTransform(1e-8), history_tol=kwargs.get("history_tol"))


@pytest.mark.parametrize("tol", [0.0, -1e-3, 0.5, 1e-16, float("nan"), "1e-8", True])
def test_bad_tolerance(tol):
    with pytest.raises(ValueError, match="tol"):
        kg.FastGaussTransform(tol)


def test_centres_beyond_box_labels_are_summed_exactly(rng):
    # A centre 1e25 bandwidths away has no int64 box label: it is summed exactly (a history
    # slice) instead of failing; the gradient near the origin and at the far centre (where
    # float64 cannot place a second point within 500 bandwidths) matches the direct sum.
    kernel = kg.Gaussian(sigma=1e-6)
    x = np.zeros((1, 1))
    disc = kg.FastGaussTransform(1e-8).build(kernel, x, np.ones(1), 2)
    y = np.array([[0.0], [1e19]])
    disc.add_slice(y, np.array([0.5, -0.7]))
    assert disc.num_slices == 1, "the far centre should be held exactly"
    pts = np.array([[1e19], [3e-7]])
    ref = naive_grad_sum(kernel, pts, y, np.array([0.5, -0.7]))
    np.testing.assert_allclose(disc.grad(pts), ref, rtol=1e-9, atol=0,
                               err_msg="far centre vs direct double-loop sum")
