"""The NNGP kernel (theory section 10) in the exact dynamics: kg.simulate and kg.simulate_batch.

The NNGP kernel is neither radial nor translation invariant, so the discriminator's kernel sums
take the generic path (blocks of the kernel's public pairwise gradient) in absolute
coordinates. Oracle: :func:`tests.oracles.naive_rule_simulate`, which steps the kernel
expansion as theory section 8's table reads, with gradients evaluated pair by pair by complex
steps on the layer-by-layer recursion (:func:`tests.oracles.nngp_direct`); central differences
at coincident points (error ~1e-10, hence the tolerances below).
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.kernels import Kernel
from kernelgda.status import Status

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

MODES = ["simultaneous", "alternating", "extragradient", "optimistic", "momentum"]
X = np.array([[1.0, 0.2], [-0.4, 1.1], [0.3, -0.9]])
P = np.array([1.0, 0.7, 0.5])
Y0 = np.array([[0.8, 0.5], [-0.2, -0.7]])
STEPS = 12
# Oracle gradients at coincident points are central differences (~1e-10 each); over 12 steps
# with ~unit Lipschitz constants the positions agree to well below 1e-8.
ATOL = 1e-8


def _gan(depth=2, bias=0.3, lam=0.5):
    return kg.KernelGAN(X, P, kg.NNGP(depth=depth, bias=bias), lam=lam)


def _oracle(gan, gda, y0=Y0):
    return oracles.naive_rule_simulate(gan.kernel, gan.x_true, gan.p_true, gan.lam, gda.eta_d,
                                       gda.eta_g, gda.mode, y0, np.ones(len(y0)), STEPS,
                                       beta=gda.beta, d_steps=gda.d_steps)


def _gda(mode, eta_d=0.3, eta_g=0.4):
    return kg.GDA(eta_d, eta_g, mode=mode, beta=0.5 if mode == "momentum" else 0.0)


@pytest.mark.parametrize("mode", MODES)
def test_simulate_matches_naive_expansion(mode):
    gan, gda = _gan(), _gda(mode)
    traj = kg.simulate(gan, gda, Y0, 1.0, num_steps=STEPS)
    ref = _oracle(gan, gda)
    assert traj.status == Status.COMPLETED
    assert np.abs(ref[-1] - ref[0]).max() > 0.1  # the points do move
    np.testing.assert_allclose(traj.y, ref, rtol=0, atol=ATOL)
    assert traj.sigma == 1.0  # the NNGP kernel's length_scale


@pytest.mark.parametrize("mode", ["simultaneous", "alternating", "optimistic"])
def test_simulate_batch_matches_naive_expansion(mode):
    gan = _gan()
    gdas = [_gda(mode), _gda(mode, eta_d=0.2, eta_g=0.5)]
    y0 = np.stack([Y0, Y0 + 0.1])
    runs = kg.simulate_batch([gan, gan], gdas, y0, 1.0, num_steps=STEPS)
    for b in range(2):
        ref = _oracle(gan, gdas[b], y0[b])
        np.testing.assert_allclose(runs.y[b], ref, rtol=0, atol=ATOL)
    assert list(runs.status) == [Status.COMPLETED] * 2
    np.testing.assert_array_equal(runs.sigma, [1.0, 1.0])


def test_depth_one_without_bias_and_alternating_d_steps():
    gan, gda = _gan(depth=1, bias=0.0, lam=0.2), kg.GDA(0.3, 0.4, mode="alternating", d_steps=2)
    traj = kg.simulate(gan, gda, Y0, 1.0, num_steps=STEPS)
    np.testing.assert_allclose(traj.y, _oracle(gan, gda), rtol=0, atol=ATOL)


def test_truncated_history_stays_close_to_the_exact_run():
    gan, gda = _gan(), kg.GDA(0.3, 0.4)
    exact = kg.simulate(gan, gda, Y0, 1.0, num_steps=150)
    cut = kg.simulate(gan, gda, Y0, 1.0, num_steps=150, history_tol=1e-8)
    assert cut.num_slices < exact.num_slices
    assert 0 < cut.truncation_bound < 1e-5
    # a gradient error of at most ~bound per step, over 150 steps of a contracting run
    np.testing.assert_allclose(cut.y, exact.y, rtol=0, atol=1e-5)
    runs = kg.simulate_batch([gan], gda, Y0, 1.0, num_steps=150, history_tol=1e-8)
    np.testing.assert_allclose(runs.y[0], exact.y, rtol=0, atol=1e-5)
    assert 0 < runs.truncation_bound[0] < 1e-5


def test_random_features_refuse_nngp_and_batches_need_one_kernel():
    with pytest.raises(ValueError, match="no random-feature map"):
        kg.simulate(_gan(), kg.GDA(0.3, 0.4), Y0, 1.0, num_steps=3,
                    discriminator=kg.RandomFeatures(num_features=8, seed=0))
    with pytest.raises(ValueError, match="same nngp kernel"):
        kg.simulate_batch([_gan(depth=2), _gan(depth=3)], kg.GDA(0.3, 0.4), Y0, 1.0, num_steps=3)


def test_escape_check_for_a_kernel_that_is_not_radial():
    # NNGP values grow with |y| (ReLU networks with bias > 0 never make them vanish), so
    # neither a distant point nor the true points themselves count as escaped; the test is
    # sum p |K(y, x)| against its Cauchy-Schwarz bound, not the radial K(0).
    gan = _gan()
    assert not kg.dynamics.escaped(gan, np.array([[1e6, -3e5]]))
    assert not kg.dynamics.escaped(gan, X[:2])


class PlainNNGP(Kernel):
    """The NNGP through the bare :class:`Kernel` interface only (pairwise values and
    derivatives, no fast ``grad_sum``): stands for any future non-radial kernel."""

    def __init__(self, depth, bias):
        self.inner = kg.NNGP(depth=depth, bias=bias)

    def pair_value(self, y, z):
        return self.inner.pair_value(y, z)

    def pair_grad(self, y, z):
        return self.inner.pair_grad(y, z)

    def pair_hessian(self, y, z):
        return self.inner.pair_hessian(y, z)

    def pair_mixed(self, y, z):
        return self.inner.pair_mixed(y, z)

    @property
    def length_scale(self):
        return 1.0

    def params(self):
        return self.inner.params()  # the oracle evaluates it as the NNGP it is


def test_a_kernel_with_only_the_interface_runs_single_and_batched(monkeypatch):
    # The dynamics see the kernel through Kernel only: the generic blocked sum (Kernel.grad_sum
    # over pair_grad, here in blocks of 16 values = 4 centres), grad_scale, length_scale.
    import kernelgda.kernels.base as base
    monkeypatch.setattr(base, "GRAD_BLOCK_ENTRIES", 16)
    gan = kg.KernelGAN(X, P, PlainNNGP(2, 0.3), lam=0.5)
    for mode in ("simultaneous", "alternating"):
        gda = _gda(mode)
        ref = _oracle(gan, gda)
        np.testing.assert_allclose(kg.simulate(gan, gda, Y0, 1.0, num_steps=STEPS).y, ref,
                                   rtol=0, atol=ATOL)
        runs = kg.simulate_batch([gan], gda, Y0, 1.0, num_steps=STEPS)
        np.testing.assert_allclose(runs.y[0], ref, rtol=0, atol=ATOL)


@pytest.mark.parametrize("depth, bias", [(1, 0.0), (2, 0.3), (3, 1.0)])
def test_nngp_grad_sum_matches_pairwise_oracle(depth, bias, rng, monkeypatch):
    # NNGP.grad_sum (span form A u + B v, (n, M) arrays) against the pair-by-pair oracle,
    # with centres far, nearly coincident (1e-7 apart: R_0 from differences), coincident
    # and parallel (2y); blocks of 5 centres.
    import kernelgda.kernels.nngp as nngp
    monkeypatch.setattr(nngp, "SUM_BLOCK_ENTRIES", 15)
    kernel = kg.NNGP(depth=depth, bias=bias)
    y = rng.normal(size=(3, 4))
    z = np.concatenate([rng.normal(size=(5, 4)), y + 1e-7 * rng.normal(size=y.shape), y, 2 * y])
    w = rng.normal(size=len(z))
    # oracle: complex steps (exact to rounding) and central differences at coincident
    # points (error ~1e-10 relative)
    np.testing.assert_allclose(kernel.grad_sum(y, z, w), oracles.naive_grad_sum(kernel, y, z, w),
                               rtol=0, atol=1e-8)


def test_nngp_grad_scale_is_the_largest_pairwise_gradient(rng):
    # oracle: the largest norm of the pair-by-pair complex-step / central-difference gradients
    kernel = kg.NNGP(depth=2, bias=0.4)
    pts = rng.normal(size=(5, 3))
    norms = [np.linalg.norm(oracles.kernel_grad_u(kernel, u, v)) for u in pts for v in pts]
    np.testing.assert_allclose(kernel.grad_scale(pts), max(norms), rtol=1e-8)
