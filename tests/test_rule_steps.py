"""Each update rule's nonlinear step (theory section 8) against the rule table applied literally.

Oracle: :func:`tests.oracles.naive_rule_simulate`, which steps ``z = (f, Y)`` as the table of
theory section 8 reads, with ``f`` a dictionary of kernel-expansion terms evaluated point by
point; it shares no derivation with the library's unrolled coefficient maps. Both front doors,
``kg.simulate`` and ``kg.simulate_batch``, must follow it.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.status import Status

from . import oracles

pytestmark = pytest.mark.usefixtures("strict_float")

X = np.array([[0.0, 0.0], [0.7, 0.2]])
P = np.array([1.0, 0.7])
RULES = [("simultaneous", {}), ("alternating", {"d_steps": 2}), ("extragradient", {}),
         ("optimistic", {}), ("momentum", {"beta": -0.3}), ("momentum", {"beta": 0.5})]
KERNELS = [kg.Gaussian(sigma=0.5), kg.RationalQuadratic(sigma=0.6, alpha=1.5)]
NUM_STEPS = 40
# Same expansion summed in another order and form (matrix products and an unrolled coefficient map
# vs term-by-term broadcasting): ~1e2 eps per step, carried over 40 steps of a map that is not
# expanding at these rates: 1e-11 of |Y| ~ 1.
ATOL = 1e-11


def _oracle(gan, gda, y0, q, eq=None):
    return oracles.naive_rule_simulate(gan.kernel, gan.x_true, gan.p_true, gan.lam, gda.eta_d, gda.eta_g,
                                       gda.mode, y0, q, NUM_STEPS, beta=gda.beta, d_steps=gda.d_steps,
                                       fstar_y=None if eq is None else eq.y)


def _case(rng, kernel):
    gan = kg.KernelGAN(X, P, kernel, 0.4)
    y0 = X + rng.normal(scale=0.1, size=X.shape)
    return gan, y0, 0.9 * P


@pytest.mark.parametrize("mode,kw", RULES)
@pytest.mark.parametrize("kernel", KERNELS, ids=["gauss", "rq"])
def test_simulate_follows_the_rule_table(mode, kw, kernel, rng):
    gan, y0, q = _case(rng, kernel)
    gda = kg.GDA(0.1, 0.3, mode, **kw)
    traj = kg.simulate(gan, gda, y0, q, NUM_STEPS)
    assert traj.status == Status.COMPLETED
    np.testing.assert_allclose(traj.y, _oracle(gan, gda, y0, q), rtol=0, atol=ATOL,
                               err_msg=f"kg.simulate vs the rule table of theory section 8 ({mode})")


@pytest.mark.parametrize("mode,kw", RULES)
def test_simulate_from_fstar_follows_the_rule_table(mode, kw, rng):
    gan, _, q = _case(rng, KERNELS[0])
    eq = kg.find_equilibrium(gan, X, q)
    assert eq.converged
    gda = kg.GDA(0.1, 0.3, mode, **kw)
    y0 = eq.y + rng.normal(scale=1e-2, size=X.shape)
    traj = kg.simulate(gan, gda, y0, q, NUM_STEPS, start=eq)
    np.testing.assert_allclose(traj.y, _oracle(gan, gda, y0, q, eq), rtol=0, atol=ATOL,
                               err_msg=f"kg.simulate(start=eq) vs the rule table ({mode})")


@pytest.mark.slow
def test_simulate_batch_follows_the_rule_table(rng):
    # One batch mixing every rule (grouped by rule inside) and two kernel widths.
    gans = [kg.KernelGAN(X, P, kg.Gaussian(sigma=s), 0.4) for s in (0.5, 0.8)]
    cells = [(gan, kg.GDA(0.1, 0.3, mode, **kw)) for gan in gans for mode, kw in RULES]
    y0 = X + rng.normal(scale=0.1, size=(len(cells),) + X.shape)
    q = 0.9 * P
    batch = kg.simulate_batch([c[0] for c in cells], [c[1] for c in cells], y0, q, NUM_STEPS)
    for b, (gan, gda) in enumerate(cells):
        assert batch.status[b] == Status.COMPLETED
        np.testing.assert_allclose(batch.y[b], _oracle(gan, gda, y0[b], q), rtol=0, atol=ATOL,
                                   err_msg=f"kg.simulate_batch vs the rule table ({gda.mode}, cell {b})")


def test_every_mode_has_one_rule():
    # The registry is the one list of rules: GDA.mode, the batch and the rule functions agree.
    assert kg.MODES == tuple(kg.rules.REGISTRY) == kg.batch.BATCH_MODES
    for mode in kg.MODES:
        rule = kg.rules.get_rule(mode)
        assert rule.name == mode and rule.num_delays == kg.rules.num_delays(mode) == 2 * rule.state_copies


# -- escaped runs and sparse recording -------------------------------------------------------------


def test_a_run_that_escapes_is_reported():
    # A point 4 / 0.3 ~ 13 sigma from the only true point: exp(-r^2 / 2 sigma^2) ~ 1e-39, far below
    # eps; the gradient it feels is ~0 and it stays there. One 0.2 away converges normally.
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.1)
    far = kg.simulate(gan, kg.GDA(0.1, 0.5), [[4.0]], 1.0, 20)
    near = kg.simulate(gan, kg.GDA(0.1, 0.5), [[0.2]], 1.0, 20)
    assert far.status == Status.ESCAPED and "escaped" in far.message, far.message
    assert near.status == Status.COMPLETED
    assert str(far.status) == "escaped"
    batch = kg.simulate_batch(gan, kg.GDA(0.1, 0.5), [[[4.0]], [[0.2]]], 1.0, 20)
    assert batch.status[0] == Status.ESCAPED and batch.status[1] == Status.COMPLETED
    assert batch.trajectory(0).status == Status.ESCAPED


def test_escape_criterion_matches_the_kernel_values():
    # Oracle: the kernel values by hand (theory section 1, tests.oracles): a point has escaped when
    # sum_i p_i K(y, x_i) <= eps K(0) sum p; sitting on a true point (zero gradient) is not escaping.
    gan = kg.KernelGAN([[0.0], [1.0]], [1.0, 0.5], kg.Gaussian(sigma=0.3), lam=0.1)
    for r in (0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 331.0):
        reach = sum(pi * oracles.kernel_value(gan.kernel, [r], [xi]) for pi, xi in ((1.0, 0.0), (0.5, 1.0)))
        want = reach <= np.finfo(float).eps * 1.5
        assert kg.dynamics.escaped(gan, np.array([[r]])) == want, r
    assert kg.dynamics.escaped(gan, np.array([[0.0]])) is False
    assert kg.dynamics.escaped(gan, np.array([[331.0]])) is True


@pytest.mark.parametrize("mode,kw", [("alternating", {}), ("momentum", {"beta": 0.3})])
def test_record_every_keeps_every_kth_configuration_and_the_last(mode, kw, rng):
    gan, y0, q = _case(rng, KERNELS[0])
    gda = kg.GDA(0.1, 0.3, mode, **kw)
    full = kg.simulate(gan, gda, y0, q, 23)
    sparse = kg.simulate(gan, gda, y0, q, 23, record_every=5)
    np.testing.assert_array_equal(sparse.steps, [0, 5, 10, 15, 20, 23])
    assert sparse.num_steps == 23 and sparse.y.shape[0] == 6
    # Same run, same arithmetic: the recorded rows are the full run's rows (rounding-free copy).
    np.testing.assert_allclose(sparse.y, full.y[sparse.steps], rtol=0, atol=1e-15)


@pytest.mark.slow
def test_record_every_still_measures_the_rate():
    # Oracle: the rate measured on the full-resolution run of the same problem (theory section 4);
    # the stride-s fit sees the s-th power of the step and reports |z|^(1/s).
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    eq = kg.find_equilibrium(gan, [[0.0]], 0.8)
    gda = kg.GDA(0.05, 0.05)
    y0 = eq.y + 1e-6
    full = kg.simulate(gan, gda, y0, eq.q, 1500, start=eq)
    sparse = kg.simulate(gan, gda, y0, eq.q, 1500, start=eq, record_every=3)
    r_full, r_sparse = full.rate(eq.y), sparse.rate(eq.y)
    assert np.isfinite(r_full) and 0.5 < r_full < 1
    # Both are least-squares fits to the same linear decay: agreement ~1e-6 relative.
    np.testing.assert_allclose(r_sparse, r_full, rtol=1e-5)


def test_record_every_is_validated():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    with pytest.raises(ValueError, match="record_every"):
        kg.simulate(gan, kg.GDA(0.1, 0.1), [[0.1]], 1.0, 10, record_every=0)


def test_batch_record_every_matches_the_full_batch(rng):
    # A diverging cell (off the stride) and two completed ones; oracle: the full-resolution batch.
    gan = kg.KernelGAN(X, P, kg.Gaussian(sigma=0.5), 0.4)
    gdas = [kg.GDA(0.1, 0.3), kg.GDA(0.1, 0.3, "momentum", beta=0.3), kg.GDA(0.5, 3.0)]
    y0 = X + rng.normal(scale=0.1, size=(3,) + X.shape)
    bound = [10.0, 10.0, 1.5]  # the last cell overshoots and leaves this ball after a few steps
    full = kg.simulate_batch(gan, gdas, y0, 0.9 * P, 23, divergence_bound=bound)
    sparse = kg.simulate_batch(gan, gdas, y0, 0.9 * P, 23, divergence_bound=bound, record_every=5)
    assert full.status[2] == Status.DIVERGED and full.num_taken[2] % 5, "expected an off-stride divergence"
    assert full.status[0] == full.status[1] == Status.COMPLETED
    np.testing.assert_array_equal(sparse.num_taken, full.num_taken)
    for b in range(3):
        traj = sparse.trajectory(b)
        np.testing.assert_allclose(traj.y, full.y[b, traj.steps], rtol=0, atol=1e-15)
        assert traj.num_steps == full.num_taken[b] and traj.status == full.status[b]
