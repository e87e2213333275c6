"""The exact kernel-expansion discriminator (theory section 2) against naive kernel sums."""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.discriminator import Expansion

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

KERNELS = [kg.Gaussian(sigma=0.6), kg.RationalQuadratic(sigma=0.5, alpha=1.5),
           kg.Multiscale(sigmas=(0.3, 1.0)), kg.Laplacian(sigma=0.7)]


def _build(kernel, rng, num_slices, *, capacity, history_tol=None, decay=0.9, offset=3.0):
    """An expansion and the same expansion as explicit (centres, coefficients) lists.

    The points sit around ``offset`` so that the library's centring at the true points'
    mean is exercised.
    """
    m, n, d = 3, 2, 2
    x = offset + rng.normal(scale=0.5, size=(m, d))
    p = rng.uniform(0.5, 1.5, size=m)
    exp = Expansion(kernel, x, p, n, capacity, history_tol)
    c = 0.0
    slices = []
    for _ in range(num_slices):
        exp.decay(decay)
        c *= decay
        slices = [(z, w * decay) for z, w in slices]
        exp.add_true(0.1)
        c += 0.1
        z = offset + rng.normal(scale=0.5, size=(n, d))
        w = rng.normal(size=n)
        exp.add_slice(z, w)
        slices.append((z.copy(), w.copy()))
    centres = np.concatenate([x] + [z for z, _ in slices])
    coefs = np.concatenate([c * p] + [w for _, w in slices])
    return exp, centres, coefs


@pytest.mark.parametrize("kernel", KERNELS, ids=[k.name for k in KERNELS])
def test_grad_and_value_match_naive_sums(kernel, rng):
    exp, z, w = _build(kernel, rng, 12, capacity=4)  # capacity 4 < 12 slices: the buffer grows
    y = 3.0 + rng.normal(scale=0.5, size=(5, 2))
    y[0] = z[4]  # a point on a centre (the Laplacian's subgradient 0 there)
    # Different summation orders and the matrix-product distance: ~1e3 eps relative to the
    # total coefficient mass; 1e-12 absolute is ~1e2 above.
    np.testing.assert_allclose(exp.grad(y), oracles.naive_grad_sum(kernel, y, z, w), rtol=1e-10,
                               atol=1e-12, err_msg="Expansion.grad vs naive double loop")
    np.testing.assert_allclose(exp.value(y), oracles.naive_value_sum(kernel, y, z, w), rtol=1e-10,
                               atol=1e-12, err_msg="Expansion.value vs naive double loop")
    assert exp.num_slices == 12 and exp.bound == 0.0


@pytest.mark.parametrize("kernel", KERNELS[:2], ids=[k.name for k in KERNELS[:2]])
def test_truncation_error_within_bound(kernel, rng):
    exp, z, w = _build(kernel, rng, 200, capacity=200, history_tol=1e-4, decay=0.95)
    assert exp.num_slices < 200 and exp.bound > 0, "truncation must have dropped slices"
    y = 3.0 + rng.normal(scale=0.7, size=(50, 2))
    full = oracles.naive_grad_sum(kernel, y, z, w)
    err = np.linalg.norm(exp.grad(y) - full, axis=1).max()
    # The bound is rigorous (grad_bound times the dropped mass); add rounding of the sums.
    assert err <= exp.bound + 1e-12, f"truncation error {err:.2e} above its bound {exp.bound:.2e}"
    # And the bound is what history_tol promises: at most tol of the total mass times G.
    assert exp.bound <= 1e-4 * exp.total_mass() * kernel.grad_bound * (1 + 1e-12)


def test_decay_to_zero_and_tiny_scales(rng):
    kernel = kg.Gaussian(sigma=0.6)
    exp, z, w = _build(kernel, rng, 5, capacity=8)
    y = 3.0 + rng.normal(scale=0.5, size=(3, 2))
    for _ in range(400):  # (1e-1)^400 underflows a float: the library renormalises
        exp.decay(0.1)
    exp.add_slice(z[-2:], np.array([1.0, -2.0]))
    want = oracles.naive_grad_sum(kernel, y, z[-2:], np.array([1.0, -2.0]))
    np.testing.assert_allclose(exp.grad(y), want, rtol=1e-12, atol=1e-300,
                               err_msg="after 400 decays by 0.1 only the new slice remains")
    exp.decay(0.0)
    np.testing.assert_array_equal(exp.grad(y), 0.0)


# -- the one truncation tracker (kernelgda.discriminator.truncation) ---------------------------


def _drive(tracker, slices, steps, after_step, scale=lambda: 1.0):
    """Feed ``slices[k]`` (coefficients ``(F, n)``) at step k and truncate; returns (held, dropped).

    One function: slices are stored divided by the owner's running ``scale()`` at entry, as
    the expansions store them (the tracker works in those stored units).
    """
    held, dropped = [], []

    def left(rows):
        return np.full(len(rows), len(held))

    def oldest(rows):
        return held[0][None]

    def drop(rows):
        dropped.append(held.pop(0))

    for k in range(steps):
        after_step(held)
        held.append(slices[k] / scale())
        if tracker.num_funcs == 1:
            tracker.added(np.array([np.abs(held[-1]).sum()]))
            true_mass, live = np.array([0.0]), None
        else:
            true_mass, live = np.array([0.0]), np.array([sum(np.abs(w).sum() for w in held)])
        tracker.truncate(true_mass, live, left, oldest, drop)
    return held, dropped


def test_tracker_one_function_is_the_decayed_dropped_mass(rng):
    # Oracle: the dropped slices' coefficients decayed by hand, (1 - a)^(age) |w|_1 summed.
    from kernelgda.discriminator import TruncationTracker

    tracker = TruncationTracker(1e-3, 1, 1)
    factor, scale = 0.8, [1.0]

    def decay(held):  # the owner's O(1) decay: only its running product changes
        scale[0] *= factor
    slices = [rng.normal(size=(1, 3)) for _ in range(60)]
    held, dropped = _drive(tracker, slices, 60, decay, lambda: scale[0])
    assert dropped, "expected some slices dropped"
    # The oldest slices go first; slice s entered at step s and has seen 59 - s decays by the end.
    exact = sum(np.abs(w).sum() * factor ** (59 - s) for s, w in enumerate(slices[:len(dropped)]))
    got = tracker.dropped(np.array([scale[0]]))[0]
    np.testing.assert_allclose(got, exact, rtol=1e-12)  # rounding of ~60 products
    kept = tracker.kept[0] * scale[0]
    assert got <= 1e-3 * (kept + got) * (1 + 1e-12), "dropped mass exceeds its budget"
    np.testing.assert_allclose(kept, sum(np.abs(w).sum() for w in held) * scale[0], rtol=1e-12)
    # Renormalising the owner's coefficients carries the tracker along.
    tracker.rescale(slice(None), scale[0])
    np.testing.assert_allclose(tracker.dropped()[0], exact, rtol=1e-12)


def test_tracker_two_functions_bounds_the_propagated_dropped_mass(rng):
    # Oracle: every dropped coefficient vector propagated by the mixing map by hand, T^age w, and
    # the 1-norm of the sum: the tracker's D must bound it (theory section 8 momentum map).
    from kernelgda.discriminator import TruncationTracker

    a, eta_d, beta, lam = 0.05, 0.1, 0.4, 0.5
    t = np.array([[1 - a, eta_d * beta], [-lam, beta]])
    tracker = TruncationTracker(1e-4, 1, 2)
    slices = [rng.normal(size=(2, 3)) for _ in range(80)]

    def mix(held):
        tracker.mix(t[None])
        for w in held:
            w[...] = t @ w

    held, dropped = _drive(tracker, slices, 80, mix)
    assert dropped, "expected some slices dropped"
    # Propagate each dropped slice from its entry to the end: entered at step s, mixed 79 - s times.
    exact = sum(np.linalg.matrix_power(t, 79 - s) @ slices[s] for s in range(len(dropped)))
    assert np.abs(exact).sum() <= tracker.dropped()[0] * (1 + 1e-12), "the bound D is not certified"
    assert tracker.dropped()[0] < 10 * sum(np.abs(np.linalg.matrix_power(t, 79 - s) @ slices[s]).sum()
                                         for s in range(len(dropped))), "the bound is far too loose"
