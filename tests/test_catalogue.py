"""The fixed-point catalogue and its basins (kernelgda.catalogue; theory sections 3, 4, 9, 10)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.catalogue import OUTCOMES
from kernelgda.catalogue.search import NO_FSTAR
from kernelgda.catalogue.starts import (
    SAME_TOL,
    distance,
    random_starts,
    splits,
    structured_starts,
    weight_groups,
)
from kernelgda.equilibrium import TOL

from . import oracles

SIGMA = 0.3
GDA = kg.GDA(0.1, 0.01)
Q = np.array([0.5, 0.5])


def issue_gan(p=(0.3, 0.7), sigma=SIGMA, lam=3.0):
    """Issue 19: true points -1, +1 with weights ``p``, Gaussian width 0.3, lam = 3."""
    return kg.KernelGAN([[-1.0], [1.0]], list(p), kg.Gaussian(sigma=sigma), lam=lam)


@pytest.fixture(scope="module", params=[(0.3, 0.7), (0.7, 0.3)], ids=["heavy+1", "heavy-1"])
def issue_case(request):
    p = request.param
    gan = issue_gan(p)
    return p, gan, kg.fixed_points(gan, Q, gda=GDA)


def _naive_distance(a, b, q):
    """Smallest over permutations of equal-weight points of the largest point distance (brute force)."""
    n = len(q)
    best = np.inf
    for perm in itertools.permutations(range(n)):
        if all(abs(q[j] - q[perm[j]]) <= 1e-12 * q[j] for j in range(n)):
            best = min(best, max(np.linalg.norm(a[j] - b[perm[j]]) for j in range(n)))
    return best


# -- the case of issue 19 and its mirror ------------------------------------------------------


def test_issue_case_has_the_stable_straddling_and_the_unstable_coincident_collapse(issue_case):
    p, gan, cat = issue_case
    heavy = int(np.argmax(p))
    x_heavy = gan.x_true[heavy, 0]
    on_heavy = [e for e in cat if e.kind.kind == "collapse" and e.kind.shared[0][0] == heavy]
    straddle = [e for e in on_heavy if np.ptp(e.y[:, 0]) > 0.1 * SIGMA]
    coincident = [e for e in on_heavy if np.ptp(e.y[:, 0]) < 1e-8 * SIGMA]
    assert len(straddle) == 1 and len(coincident) == 1, [e.label for e in cat]
    s, c = straddle[0], coincident[0]
    assert s.y[:, 0].min() < x_heavy < s.y[:, 0].max(), "the collapse straddles the heavy true point"
    np.testing.assert_allclose(c.y[:, 0], x_heavy, atol=1e-10, err_msg="coincident collapse on x")
    assert s.stable and not c.stable
    assert s.label.endswith("(2 points, spread)") and c.label.endswith("(2 points, coincident)")
    # Spectral radii against the finite-difference Jacobian of the exact one-step map.
    for e in (s, c):
        jac, _ = oracles.fd_reduced_jacobian(gan.kernel, gan.x_true, gan.p_true, gan.lam, GDA.eta_d,
                                             GDA.eta_g, GDA.mode, e.y, Q)
        expected = max(np.abs(np.linalg.eigvals(jac)).max(), 1 - GDA.eta_d * gan.lam)
        np.testing.assert_allclose(e.spectral_radius, expected, atol=1e-6,
                                   err_msg="spectral radius vs finite-difference reduced Jacobian")
    # The straddle's half-width against the section-9 stationary spread, by hand: the group of
    # Q = 1 on the heavy point of mass 0.7 has tr S = 0.3 sigma^2 / 1.5; Newton's spread is
    # larger (theory section 9: about 15-40 % at this excess mass).
    ratio = np.var(s.y[:, 0]) / (0.3 * SIGMA**2 / 1.5)
    assert 1.0 < ratio < 1.4, ratio
    # Stable entries come first (then by MMD^2).
    flags = [e.stable for e in cat]
    assert flags == sorted(flags, reverse=True), flags


def test_issue_case_every_entry_is_a_fixed_point_by_finite_differences(issue_case):
    p, gan, cat = issue_case
    assert cat.status is kg.status.Status.CONVERGED, cat.message
    # Satellite starts that stall or fail are counted, not listed (module kernelgda.catalogue.starts).
    assert set(cat.failures) <= {"not_converged", "vanishing_gradient"}, cat.failures
    for e in cat:
        grad = oracles.fstar_grad(gan.kernel, gan.x_true, gan.p_true, gan.lam, e.y, Q, e.y)
        # lam grad f* vanishes to the solver tolerance (relative to (sum p + sum q) grad_bound).
        scale = (gan.p_true.sum() + Q.sum()) * gan.kernel.grad_bound
        assert np.abs(gan.lam * grad).max() <= TOL * scale, (e.label, grad)

        def fstar(u, e=e):
            u = np.atleast_1d(u)
            return (sum(pi * oracles.kernel_value(gan.kernel, u, xi)
                        for pi, xi in zip(gan.p_true, gan.x_true, strict=True))
                    - sum(qj * oracles.kernel_value(gan.kernel, u, yj)
                          for qj, yj in zip(Q, e.y, strict=True))) / gan.lam

        # h = 1e-5: truncation h^2 |f'''| / 6 ~ 1e-10 / sigma^3 ~ 4e-9, rounding eps / h ~ 1e-11.
        fd = np.array([oracles.fd_gradient(fstar, yj, 1e-5) for yj in e.y])
        np.testing.assert_allclose(fd, 0.0, atol=2e-8, err_msg=f"grad f* by central differences ({e.label})")
        np.testing.assert_allclose(e.mmd2, _naive_mmd2(gan, e.y, Q), rtol=1e-12,
                                   err_msg="MMD^2 by double sum")


def _naive_mmd2(gan, y, q):
    k = gan.kernel
    x, p = gan.x_true, gan.p_true
    total = sum(pi * pj * oracles.kernel_value(k, xi, xj) for pi, xi in zip(p, x, strict=True)
                for pj, xj in zip(p, x, strict=True))
    total -= 2 * sum(pi * qj * oracles.kernel_value(k, xi, yj) for pi, xi in zip(p, x, strict=True)
                     for qj, yj in zip(q, y, strict=True))
    total += sum(qi * qj * oracles.kernel_value(k, yi, yj) for qi, yi in zip(q, y, strict=True)
                 for qj, yj in zip(q, y, strict=True))
    return total


def test_issue_case_has_no_duplicates_up_to_permutation(issue_case):
    _, gan, cat = issue_case
    for a, b in itertools.combinations(cat.entries, 2):
        assert _naive_distance(a.y, b.y, Q) > SAME_TOL * SIGMA, (a.label, b.label)
    # 9 fixed points in each case: the fit, two spread and two coincident collapses, four
    # spurious (a dense grid of starts finds no other: the slow test below).
    assert len(cat) == 9, [e.label for e in cat]
    assert sum(e.count for e in cat) + cat.num_failed == cat.num_starts


def test_issue_case_and_mirror_are_mirror_images():
    a = kg.fixed_points(issue_gan((0.3, 0.7)), Q, gda=GDA, num_random=4)
    b = kg.fixed_points(issue_gan((0.7, 0.3)), Q, gda=GDA, num_random=4)
    for e in a:
        i = b.match(-e.y, tol=1e-8)
        assert i >= 0, f"mirror of {e.label} not found"
        np.testing.assert_allclose(b[i].spectral_radius, e.spectral_radius, rtol=1e-9,
                                   err_msg="mirror image: the same linearization")


@pytest.mark.slow
def test_issue_case_verdicts_agree_with_runs_started_next_to_each_entry(issue_case, rng):
    _, gan, cat = issue_case
    # From f* of each entry, the points moved 1e-2 sigma in two random directions; 20,000 steps
    # decide even the weakest unstable entry (spectral radius 1.000386: growth 2e3).
    starts, eqs, owner = [], [], []
    for i, e in enumerate(cat):
        for _ in range(2):
            d = rng.standard_normal(e.y.shape)
            starts.append(e.y + 1e-2 * SIGMA * d / np.linalg.norm(d))
            eqs.append(e.equilibrium)
            owner.append(i)
    runs = kg.simulate_batch(gan, GDA, np.array(starts), Q, 20000, start=eqs, history_tol=1e-12,
                             record_every=20000)
    for b, i in enumerate(owner):
        left = _naive_distance(runs.y[b, -1], cat[i].y, Q) / SIGMA
        if cat[i].stable:
            assert left < 1e-6, f"{cat[i].label}: predicted stable, run ended {left:.2g} widths away"
        else:
            assert left > 1e-1, f"{cat[i].label}: predicted unstable, run stayed within {left:.2g}"
    basins = cat.basins(GDA, np.array(starts), 20000, start=eqs)
    stays = basins.outcome == np.array(owner)
    assert np.array_equal(stays, np.array([bool(cat[i].stable) for i in owner])), basins.message


# -- determinism, bounds and refusals ------------------------------------------------------------


def test_catalogue_is_deterministic_for_a_seed():
    gan = issue_gan()
    a = kg.fixed_points(gan, Q, gda=GDA, num_random=6, seed=3)
    b = kg.fixed_points(gan, Q, gda=GDA, num_random=6, seed=3)
    assert [e.label for e in a] == [e.label for e in b] and [e.count for e in a] == [e.count for e in b]
    for e, f in zip(a, b, strict=True):
        np.testing.assert_allclose(e.y, f.y, rtol=0, atol=1e-14, err_msg="same seed, same catalogue")
    r1 = random_starts(gan, 2, 5, np.random.default_rng(3))
    r2 = random_starts(gan, 2, 5, np.random.default_rng(4))
    assert np.abs(r1 - r2).max() > 1e-3, "another seed draws other random starts"


def test_catalogue_refuses_too_many_starts_and_too_much_memory():
    gan = issue_gan()
    with pytest.raises(ValueError, match="max_starts"):
        kg.fixed_points(gan, Q, num_random=50, max_starts=20)
    with pytest.raises(ValueError, match="fixed-point catalogue: needs .* over the limit"):
        kg.fixed_points(gan, Q, num_random=10**6, max_starts=10**7, max_memory="1M")


def test_catalogue_input_errors():
    gan = issue_gan()
    with pytest.raises(ValueError, match="laplacian|Laplacian"):
        kg.fixed_points(kg.KernelGAN([[0.0]], 1.0, kg.Laplacian(sigma=1.0), lam=1.0), [1.0])
    with pytest.raises(ValueError, match="q must be"):
        kg.fixed_points(gan, [[0.5, 0.5]])
    with pytest.raises(ValueError, match="starts must have shape"):
        kg.fixed_points(gan, Q, starts=np.zeros((3, 3, 1)))
    with pytest.raises(ValueError, match="gda must be"):
        kg.fixed_points(gan, Q, gda="alternating")
    with pytest.raises(ValueError, match="num_random"):
        kg.fixed_points(gan, Q, num_random=-1)


def test_failed_and_stalled_starts_are_counted():
    gan = issue_gan(sigma=0.1)
    far = np.array([[1.0], [3.0]])  # 20 widths out: the gradient underflows (theory section 10)
    cat = kg.fixed_points(gan, Q, starts=far, structured=False, num_random=0)
    assert cat.num_starts == 1 and cat.failures == {"vanishing_gradient": 1} and len(cat) == 0
    assert cat.status is kg.status.Status.NOT_CONVERGED and "1 vanishing_gradient" in cat.message


def test_lam_zero_keeps_only_the_perfect_match():
    gan = kg.KernelGAN([[-1.0], [1.0]], [0.5, 0.5], kg.Gaussian(sigma=0.5), lam=0.0)
    cat = kg.fixed_points(gan, Q, num_random=4)
    assert [e.kind.kind for e in cat] == ["perfect fit"], [e.label for e in cat]
    np.testing.assert_allclose(np.sort(cat[0].y[:, 0]), [-1.0, 1.0], atol=1e-10)
    # Stationary points with MMD^2 > 0 (the collapses) have no f* at lam = 0 (theory section 3).
    assert cat.failures.get(NO_FSTAR, 0) > 0, cat.failures
    assert cat[0].spectral_radius != cat[0].spectral_radius and cat[0].stable is None  # no gda


def test_catalogue_in_two_dimensions_finds_the_perfect_fit_and_nothing_twice():
    x = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5]])
    gan = kg.KernelGAN(x, [1 / 3] * 3, kg.Gaussian(sigma=0.6), lam=1.0)
    q = np.full(3, 1 / 3)
    cat = kg.fixed_points(gan, q, gda=kg.GDA(0.1, 0.1), num_random=8)
    fits = [e for e in cat if e.kind.kind == "perfect fit"]
    assert len(fits) == 1 and fits[0].stable
    assert _naive_distance(fits[0].y, x, q) < 1e-9
    for a, b in itertools.combinations(cat.entries, 2):
        assert _naive_distance(a.y, b.y, q) > SAME_TOL * 0.6
    for e in cat:
        grad = oracles.fstar_grad(gan.kernel, x, gan.p_true, gan.lam, e.y, q, e.y)
        assert np.abs(grad).max() < 1e-10, (e.label, grad)


# -- starts and sameness -------------------------------------------------------------------------


def test_distance_permutes_only_equal_weights():
    a, b = np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]])
    assert distance(a, b, weight_groups(np.array([0.5, 0.5]))) == 0.0
    assert distance(a, b, weight_groups(np.array([0.3, 0.7]))) == 1.0
    rng = np.random.default_rng(5)
    q = np.array([0.2, 0.5, 0.2, 0.5, 0.2])
    for _ in range(20):
        u, v = rng.standard_normal((2, 5, 2))
        # The optimal-assignment permutation minimises the sum of squares, not the largest
        # distance: it is never below the brute-force bottleneck value, and equal when one
        # configuration is a permutation of the other.
        assert distance(u, v, weight_groups(q)) >= _naive_distance(u, v, q) - 1e-12
        perm = np.array([2, 3, 4, 1, 0])  # swaps within the groups {0, 2, 4} and {1, 3}
        assert distance(u, u[perm], weight_groups(q)) == 0.0


def test_structured_starts_hold_coincident_smm_and_width_fractions():
    gan = issue_gan()
    y = structured_starts(gan, Q)
    assert splits(2, gan.p_true) == [(1, 1), (2, 0), (0, 2)]
    # On -1 (mass 0.3, Q = 1): the section-9 spread by hand, tr S = 0.7 sigma^2 / 1.5.
    half = np.sqrt(0.7 * SIGMA**2 / 1.5)
    expected = [[-1.0, 1.0], [-1.0, -1.0], [-1 - half, -1 + half]]
    expected += [[-1 - f * SIGMA, -1 + f * SIGMA] for f in (0.25, 0.5, 0.75)]
    np.testing.assert_allclose(y[:6, :, 0], expected, atol=1e-14, err_msg="structured starts by hand")
    # Bridges: both points at 0, and one at 0 with the other on the heavier true point.
    np.testing.assert_allclose(y[11:13, :, 0], [[0.0, 0.0], [0.0, 1.0]], atol=1e-15)
    # Satellites (2 widths out, the rest of the group 0.25 widths the other way), by hand: the
    # balanced split, then both points on -1, then both on +1.
    a, r = 2 * SIGMA, 0.25 * SIGMA
    expected = [[-1 - a, 1], [-1 + a, 1], [-1, 1 - a], [-1, 1 + a],
                [-1 + r, -1 - a], [-1 - r, -1 + a], [1 + r, 1 - a], [1 - r, 1 + a]]
    np.testing.assert_allclose(y[13:, :, 0], expected, atol=1e-14, err_msg="satellite starts by hand")
    assert y.shape == (21, 2, 1)


# -- basins ----------------------------------------------------------------------------------------


def test_basins_assign_entries_stalls_and_add_unlisted_fixed_points():
    gan = issue_gan()
    # A catalogue that knows only the fit: the collapse a run settles in is added from the run.
    cat = kg.fixed_points(gan, Q, gda=GDA, starts=[[-1.0], [1.0]], structured=False, num_random=0)
    assert [e.label for e in cat] == ["fit"]
    starts = np.array([[[-1.05], [1.05]], [[0.9], [1.1]], [[0.9], [20.0]]])
    b = cat.basins(GDA, starts, 2000)
    labels = [b.labels[k] for k in b.outcome]
    assert labels[0] == "0: fit"
    assert labels[1] == "1: collapse on 1 (2 points, spread)", labels
    assert labels[2] == "stall", labels  # 63 widths out: no gradient, not a fixed point
    new = b.catalogue[1]
    assert new.count == 0 and new.sources == {"run": 1} and new.stable
    np.testing.assert_allclose(new.y[:, 0], [0.8537109, 1.1462891], atol=1e-6)
    ds = b.dataset
    assert ds["assigned"].dims == ("start",) and ds["share"].dims == ("outcome",)
    assert list(ds["outcome"].values[-len(OUTCOMES):]) == list(OUTCOMES)
    np.testing.assert_allclose(float(ds["share"].sum()), 1.0, rtol=1e-15)
    assert sum(b.shares.values()) == pytest.approx(1.0, rel=1e-15)
    assert ds["distance"].values[2] != ds["distance"].values[2]  # nan for a stall


def test_basins_report_divergence_and_escape():
    gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=0.3), lam=0.5)
    q = np.array([1.0])
    cat = kg.fixed_points(gan, q, num_random=0)
    # eta_g so large that one step from 0.2 throws the point past the divergence ball.
    b = cat.basins(kg.GDA(0.5, 1e9), [[0.2]], 10)
    assert [b.labels[k] for k in b.outcome] == ["diverged"]
    # Theory section 10: sigma = 0.1, lam = 1, equal weights, from (1.6, 1.7) the second point
    # is pushed out (to 18 after 2000 steps) and still moving: an escape.
    gan = kg.KernelGAN([[-1.0], [1.0]], [0.5, 0.5], kg.Gaussian(sigma=0.1), lam=1.0)
    cat = kg.fixed_points(gan, Q, num_random=0)
    b = cat.basins(GDA, [[1.6], [1.7]], 2000)
    assert [b.labels[k] for k in b.outcome] == ["escape"], b.message
    assert float(b.dataset["y_end"].max()) > 10.0


def test_basins_input_errors():
    gan = issue_gan()
    cat = kg.fixed_points(gan, Q, num_random=0, structured=False, starts=[[-1.0], [1.0]])
    with pytest.raises(ValueError, match="starts must have shape"):
        cat.basins(GDA, np.zeros((2, 3, 1)), 10)
    with pytest.raises(ValueError, match="num_steps"):
        cat.basins(GDA, [[-1.0], [1.0]], 0)
    with pytest.raises(ValueError, match="gda must be"):
        cat.basins("alternating", [[-1.0], [1.0]], 10)


@pytest.mark.slow
def test_issue_case_catalogue_holds_every_fixed_point_of_a_dense_grid_of_starts():
    # Completeness oracle: Newton (the plain solver) from every pair on a 21 x 21 grid over
    # [-2, 2]^2; each genuine fixed point it reaches must be an entry of the default catalogue.
    gan = issue_gan()
    cat = kg.fixed_points(gan, Q, gda=GDA)
    grid = np.linspace(-2.0, 2.0, 21)
    reached = 0
    for a in grid:
        for b in grid[grid >= a]:
            eq = kg.find_equilibrium(gan, [[a], [b]], Q)
            if eq.converged:
                reached += 1
                assert cat.match(eq.y) >= 0, f"start ({a:g}, {b:g}) reaches {eq.y.ravel()}, not listed"
    assert reached > 50, reached
