"""The fast exact path (blocked, threaded kernel sums) and certified history truncation.

Oracles: the exact dynamics re-evaluated from the unrolled expansion of theory
section 2 at every step (``oracles.naive_simulate``), and naive double-loop or
plain-broadcasting kernel sums (``oracles.naive_grad_sum``, ``oracles.grad_expansion``).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import kernelgda as kg
import kernelgda.discriminator.kernel_sums as disc_mod
from kernelgda.discriminator import Expansion, kernel_grad_sum
from kernelgda.status import Status
from kernelgda.threads import THREADS

from .oracles import grad_expansion, naive_grad_sum, naive_simulate

KERNELS = [kg.Gaussian(0.7), kg.RationalQuadratic(0.6, alpha=1.5), kg.Multiscale(sigmas=(0.4, 1.1)),
           kg.Laplacian(0.8)]


@pytest.fixture
def many_threads(monkeypatch):
    """Force the parallel path: tiny blocks, no size threshold, three workers."""
    monkeypatch.setattr(disc_mod, "BLOCK_ENTRIES", 64)
    monkeypatch.setattr(disc_mod, "PARALLEL_MIN_PAIRS", 0)
    monkeypatch.setattr(THREADS, "workers", lambda: 3)


def _converging_problem(rng, m=3, d=2):
    """True points within about sigma of each other, generated points near them with q = 0.9 p.

    With lam = 2, eta_d = eta_g = 0.1 the fixed point near X is stable in both modes
    (generator-visible rate below 1 over a few hundred such draws).
    """
    x = rng.normal(size=(m, d)) * 0.5
    p = rng.uniform(0.5, 1.5, m)
    gan = kg.KernelGAN(x, p, kg.Gaussian(0.8), lam=2.0)
    y0 = x + rng.normal(size=(m, d)) * 0.2
    return gan, y0, 0.9 * p


@pytest.mark.parametrize("mode", ["alternating", "simultaneous"])
@pytest.mark.parametrize("from_eq", [False, True])
def test_fast_path_equals_straightforward_dynamics(rng, mode, from_eq, many_threads):
    # Oracle: theory section 2, the whole expansion rebuilt and evaluated by broadcasting each step.
    gan, y0, q = _converging_problem(rng)
    gda = kg.GDA(eta_d=0.1, eta_g=0.1, mode=mode)
    start = None
    if from_eq:
        start = kg.find_equilibrium(gan, gan.x_true, q)
        assert start.converged
    steps = 250
    traj = kg.simulate(gan, gda, y0, q, steps, start=start)
    ref = naive_simulate(gan.kernel, gan.x_true, gan.p_true, gan.lam, gda.eta_d, gda.eta_g, mode,
                         y0, q, steps, fstar_y=None if start is None else start.y)
    assert traj.status == Status.COMPLETED
    # Each step's gradient agrees to ~1e-15 relative (same formula, different summation order);
    # on a converging run the rounding differences do not grow: 1e-10 relative leaves a wide margin.
    np.testing.assert_allclose(traj.y, ref, rtol=1e-10, atol=1e-12,
                               err_msg="fast exact path vs straightforward dynamics (theory section 2)")


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
@pytest.mark.parametrize("threads", ["one", "many"])
def test_blocked_gradient_equals_naive_sum(rng, kernel, threads, request):
    # Oracle: a double loop over (point, centre) pairs with hand-derived kernel gradients.
    if threads == "many":
        request.getfixturevalue("many_threads")
    n, m, d, slices = 4, 5, 3, 30
    x = rng.normal(size=(m, d)) + 3.0  # away from the origin: the expansion re-centres
    p = rng.uniform(0.5, 1.5, m)
    e = Expansion(kernel, x, p, n, slices)
    zs, ws, c = [], [], 0.0
    for _ in range(slices):
        y = x[rng.integers(0, m, n)] + rng.normal(size=(n, d)) * 0.5
        w = rng.normal(size=n)
        e.decay(0.9)
        e.add_true(0.2)
        e.add_slice(y, w)
        c = 0.9 * c + 0.2
        ws = [0.9 * v for v in ws] + [w]
        zs.append(y)
    pts = np.vstack([zs[-1], x[:2], rng.normal(size=(3, d)) + 3.0])  # includes coincident points
    ref = naive_grad_sum(kernel, pts, np.vstack([x, *zs]), np.concatenate([c * p, *ws]))
    # Rounding of the matrix-product form: ~1e-15 of the gradient scale (coordinates ~ 3 sigma).
    np.testing.assert_allclose(e.grad(pts), ref, rtol=1e-11, atol=1e-12 * np.abs(ref).max(),
                               err_msg=f"blocked kernel sum vs double loop, {kernel.name}")


def test_kernel_grad_sum_thread_count_does_not_change_result(rng, monkeypatch):
    # Oracle: plain broadcasting; one thread and three threads give the same sum to rounding.
    monkeypatch.setattr(disc_mod, "BLOCK_ENTRIES", 64)
    monkeypatch.setattr(disc_mod, "PARALLEL_MIN_PAIRS", 0)
    kernel = kg.Gaussian(0.5)
    z = rng.normal(size=(700, 2))
    w = rng.normal(size=700)
    y = rng.normal(size=(9, 2))
    segs = [(disc_mod.augment_centres(kernel, z), disc_mod.coef_columns(z, w), 1.0)]
    ref = grad_expansion(kernel, y, z, w)
    for threads in (1, 3):
        np.testing.assert_allclose(kernel_grad_sum(kernel, y, segs, num_threads=threads), ref,
                                   rtol=1e-12, atol=1e-13 * np.abs(ref).max(),
                                   err_msg=f"{threads} threads vs broadcasting")


def test_renormalisation_growth_and_zero_decay(rng):
    # Oracle: plain broadcasting over explicitly decayed coefficients. Factors of 1e-20 force
    # the stored scale below 1e-150 (renormalisation) and a capacity of 1 forces regrowth.
    kernel, n, d = kg.Gaussian(1.0), 2, 2
    x = rng.normal(size=(3, d))
    p = np.ones(3)
    e = Expansion(kernel, x, p, n, capacity=1)
    zs, ws, c = [], [], 0.0
    for k in range(12):
        factor = 1e-20 if k % 2 else 0.5
        y, w = rng.normal(size=(n, d)), rng.normal(size=n)
        e.decay(factor)
        e.add_true(1.0)
        e.add_slice(y, w)
        c = factor * c + 1.0
        ws = [factor * v for v in ws] + [w]
        zs.append(y)
    pts = rng.normal(size=(4, d))
    ref = grad_expansion(kernel, pts, np.vstack([x, *zs]), np.concatenate([c * p, *ws]))
    np.testing.assert_allclose(e.grad(pts), ref, rtol=1e-12, atol=1e-14,
                               err_msg="after renormalisation and regrowth vs broadcasting")
    e.decay(0.0)
    e.add_slice(zs[0], ws[-1])
    ref = grad_expansion(kernel, pts, zs[0], ws[-1])
    np.testing.assert_allclose(e.grad(pts), ref, rtol=1e-12, atol=1e-14,
                               err_msg="decay(0) leaves only the new slice (broadcasting)")
    assert e.num_slices == 1


@pytest.mark.parametrize("kernel", KERNELS[:2] + KERNELS[3:], ids=lambda k: k.name)
def test_truncated_gradient_within_reported_bound_every_step(rng, kernel):
    # Oracle: the full-history expansion fed the same slices. The bound must hold at every step
    # and every point (theory section 2: dropped mass times max |grad K|).
    gan, y0, q = _converging_problem(rng)
    gan = gan.with_kernel(kernel)
    gda = kg.GDA(eta_d=0.1, eta_g=0.1)
    decay = 1.0 - gda.eta_d * gan.lam
    exact = Expansion(kernel, gan.x_true, gan.p_true, len(q), 300)
    trunc = Expansion(kernel, gan.x_true, gan.p_true, len(q), 300, history_tol=1e-3)
    y, worst = y0, 0.0
    probe = rng.normal(size=(5, gan.d))
    for _ in range(300):
        for e in (exact, trunc):
            e.decay(decay)
            e.add_true(gda.eta_d)
            e.add_slice(y, -gda.eta_d * q)
        pts = np.vstack([y, probe])
        err = np.linalg.norm(trunc.grad(pts) - exact.grad(pts), axis=1).max()
        # Rounding of both sums: 1e-13 of the gradient scale (grad_bound times the total mass).
        slack = 1e-13 * kernel.grad_bound * exact.total_mass()
        assert err <= trunc.bound + slack, "truncated gradient error exceeds the certified bound"
        worst = max(worst, err / max(trunc.bound, 1e-300))
        y = y + gda.eta_g * q[:, None] * exact.grad(y)
    assert trunc.num_slices < 100 < exact.num_slices, "truncation must keep a short window"
    assert trunc.bound > 0 and trunc.nbytes < exact.nbytes


def test_truncated_run_deviation_consistent_with_bound(rng):
    # Oracle: the exact full-history run. Each step's gradient error is at most the bound, so a
    # converging run deviates by at most eta_g q_max bound per step, summed over the run.
    gan, y0, q = _converging_problem(rng)
    gda = kg.GDA(eta_d=0.1, eta_g=0.1)
    steps = 400
    exact = kg.simulate(gan, gda, y0, q, steps)
    devs = []
    for tol in (1e-3, 1e-6):
        trunc = kg.simulate(gan, gda, y0, q, steps, history_tol=tol)
        dev = np.abs(trunc.y - exact.y).max()
        assert 0 < trunc.truncation_bound and trunc.num_slices < steps
        assert dev <= gda.eta_g * q.max() * trunc.truncation_bound * steps, \
            f"tol={tol}: deviation {dev:.2e} beyond the accumulated bound (exact run)"
        devs.append(dev)
    assert devs[1] < devs[0], "a tighter tolerance must bring the run closer to the exact one"


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), "x"])
def test_history_tol_outside_unit_interval_is_refused(bad):
    # [0, 1): 0 keeps the whole history (test_lossless_default_equals_full_history)
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(1.0), lam=0.5)
    with pytest.raises(ValueError, match="history_tol"):
        kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, 5, history_tol=bad)
    with pytest.raises(ValueError, match="history_tol"):
        kg.simulate_batch([gan], kg.GDA(0.1, 0.1), [[0.1]], 1.0, 5, history_tol=bad)


@pytest.mark.parametrize("mode, kw", [("alternating", {}), ("optimistic", {}), ("momentum", {"beta": 0.3})])
def test_lossless_default_equals_full_history(rng, mode, kw):
    # Oracle: the full-history run (history_tol=0). The default drops a slice only while the
    # certified error of all dropped slices stays within 2^-53 of grad_bound times the total
    # mass, so the runs agree to rounding (a few hundred eps of the points' extent over 600
    # steps), while the default keeps about 37 / (eta_d lam) slices.
    gan, y0, q = _converging_problem(rng)
    gda = kg.GDA(eta_d=0.2, eta_g=0.1, mode=mode, **kw)
    full = kg.simulate(gan, gda, y0, q, 600, history_tol=0)
    lossless = kg.simulate(gan, gda, y0, q, 600)
    assert full.num_slices >= 600 and full.truncation_bound == 0, "history_tol=0 must keep every slice"
    assert lossless.num_slices < 600, "the lossless default should drop the oldest slices"
    scale = np.abs(full.y).max()
    # the total mass |c| sum p + sum |w| is at most (sum p + sum q) / lam for a single function;
    # the two-function rules mix f with a second function, so allow 10x that
    mass = 10 * (gan.p_true.sum() + q.sum()) / gan.lam
    assert 0 < lossless.truncation_bound <= 2.0**-53 * gan.kernel.grad_bound * mass, \
        "certified bound beyond 2^-53 of grad_bound times the total mass"
    np.testing.assert_allclose(lossless.y, full.y, rtol=0, atol=300 * np.finfo(float).eps * scale,
                               err_msg=f"{mode}: lossless default vs full history (history_tol=0)")
    batch = kg.simulate_batch(gan, gda, y0, q, 600)
    np.testing.assert_allclose(batch.y[0], full.y, rtol=0, atol=300 * np.finfo(float).eps * scale,
                               err_msg=f"{mode}: lossless batched default vs full history")


@pytest.mark.parametrize("kernel", KERNELS[:3], ids=lambda k: k.name)
def test_far_points_keep_full_accuracy(rng, kernel):
    # Oracle: double loop with explicit differences. Slices 1e4 sigma from the true points'
    # mean: there |y|^2 + |z|^2 - 2 y.z would lose ~1e-8 of each kernel value, so the sum must
    # switch to explicit differences and stay accurate to rounding.
    n, m, d = 3, 2, 2
    x = rng.normal(size=(m, d))
    far = np.array([1e4 * kernel.sigma, 0.0])
    e = Expansion(kernel, x, np.ones(m), n, 4)
    zs = [far + rng.normal(size=(n, d)) * kernel.sigma for _ in range(4)]
    ws = [rng.normal(size=n) for _ in range(4)]
    for z, w in zip(zs, ws, strict=True):
        e.add_slice(z, w)
    pts = far + rng.normal(size=(5, d)) * kernel.sigma
    ref = naive_grad_sum(kernel, pts, np.vstack(zs), np.concatenate(ws))
    np.testing.assert_allclose(e.grad(pts), ref, rtol=1e-11, atol=1e-13 * np.abs(ref).max(),
                               err_msg=f"far from the true points vs double loop, {kernel.name}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_parallel_kernel_sum_works_in_a_forked_child(rng, many_threads):
    # Oracle: the parent's own result. A forked child has none of the parent's pool threads;
    # the pool must be rebuilt there, not waited on forever.
    kernel = kg.Gaussian(0.5)
    z, w, y = rng.normal(size=(500, 2)), rng.normal(size=500), rng.normal(size=(7, 2))
    segs = [(disc_mod.augment_centres(kernel, z), disc_mod.coef_columns(z, w), 1.0)]
    expected = kernel_grad_sum(kernel, y, segs)  # starts the pool in the parent
    pid = os.fork()
    if pid == 0:  # child: exit code 0 when the sum completes and matches
        ok = np.allclose(kernel_grad_sum(kernel, y, segs), expected, rtol=1e-13, atol=0)
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("kernel sum in a forked child hung (pool threads of the parent)")
    assert os.waitstatus_to_exitcode(status) == 0, "forked child's kernel sum differs from the parent's"
