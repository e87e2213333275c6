"""Closed forms of the isolated points model (theory section 5) against the general Jacobian."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import kernelgda as kg
from kernelgda import isolated as iso
from kernelgda.status import Status

from . import oracles
from .cases import unit

pytestmark = pytest.mark.usefixtures("strict_float")

MODES = ("alternating", "simultaneous")


def _block_spectrum(r, n: int, d: int) -> np.ndarray:
    """Expected eigenvalues of J for one block: the pair d times, the spread modes (n - 1) d times."""
    pair = np.repeat(np.asarray(r.rho_c).ravel(), d)
    spread = np.full((n - 1) * d, complex(r.rho_b)) if n > 1 else np.array([], dtype=complex)
    return np.concatenate([pair, spread])


def _isolated_game(blocks, d, kernel, lam, spacing=12.0):
    """True points ``spacing sigma`` apart on a line (coupling ~exp(-spacing^2 / 2)),
    ``n`` generated points of weight ``q`` on each; ``blocks`` is a list of ``(p, n, q)``."""
    sigma = kernel.sigma
    x = np.zeros((len(blocks), d))
    x[:, 0] = spacing * sigma * np.arange(len(blocks))
    y0 = np.concatenate([np.repeat(x[i:i + 1], n, axis=0) for i, (_, n, _) in enumerate(blocks)])
    q = np.concatenate([np.full(n, qi) for _, n, qi in blocks])
    gan = kg.KernelGAN(x, [b[0] for b in blocks], kernel, lam)
    eq = kg.find_equilibrium(gan, y0, q)
    assert eq.converged, eq.message
    return gan, eq


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", [kg.Gaussian(sigma=0.5), kg.RationalQuadratic(sigma=0.7, alpha=1.5)],
                         ids=["gaussian", "rq"])
@pytest.mark.parametrize("n, d, p, q, lam", [
    (1, 1, 1.0, 0.8, 0.5),    # deficit, n = 1
    (3, 2, 1.0, 0.3, 0.4),    # deficit, three points on one
    (2, 3, 1.0, 0.5, 0.3),    # delta = 0: neutral spread modes
    (2, 2, 1.0, 0.6, 0.5),    # surplus: unstable spread modes
    (2, 2, 1.0, 0.5, 0.0),    # lam = 0 at a perfect match
])
def test_single_block_matches_general_jacobian(n, d, p, q, lam, kernel, mode):
    gan, eq = _isolated_game([(p, n, q)], d, kernel, lam)
    eta_d, eta_g = 0.1, 0.2
    lin = kg.linearize(gan, eq, kg.GDA(eta_d, eta_g, mode))
    r = iso.eigenvalues(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=kernel.sigma, mode=mode)
    # Repeated but semisimple eigenvalues (J is a scalar block matrix times I_d): LAPACK
    # returns them to ~1e-14; no parameter here sits near a double root of the pair.
    gap = oracles.match_eigenvalues(lin.eigenvalues, _block_spectrum(r, n, d))
    assert gap < 1e-10, f"closed forms vs eigenvalues of the general Jacobian: gap {gap:.1e}"
    assert lin.generator_rate == pytest.approx(float(r.generator_rate), abs=1e-10)
    assert lin.spectral_radius == pytest.approx(float(r.spectral_radius), abs=1e-10)
    assert lin.regime == r.regime


@pytest.mark.parametrize("mode", MODES)
def test_far_apart_blocks_spectrum_is_the_union(mode):
    blocks = [(1.0, 1, 0.8), (0.6, 2, 0.3), (1.4, 3, 0.5)]
    kernel = kg.Gaussian(sigma=0.4)
    gan, eq = _isolated_game(blocks, 2, kernel, lam=0.5)
    eta_d, eta_g = 0.1, 0.3
    lin = kg.linearize(gan, eq, kg.GDA(eta_d, eta_g, mode))
    assert lin.num_locations == 3
    want = np.concatenate([
        _block_spectrum(iso.eigenvalues(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=0.5,
                                        sigma=0.4, mode=mode), n, 2) for p, n, q in blocks])
    gap = oracles.match_eigenvalues(lin.eigenvalues, want)
    # Blocks 12 sigma apart couple through exp(-72) ~ 1e-31: invisible in float64.
    assert gap < 1e-10, f"union of the blocks' closed forms vs general Jacobian: gap {gap:.1e}"


# -- the regime table of theory section 5 (alternating, delta = 0) -----------------------

A_VALUES = [0.0, 0.02, 0.1, 0.3, 0.6]


def _table(a, c):
    """Regime and rate from the table of theory section 5 (formulas typed from the table)."""
    disc = np.sqrt(np.maximum((a + c) ** 2 - 4 * c, 0.0))
    if a == 0:
        return np.where(c < 4, "cycling", "divergent"), np.where(c < 4, 1.0, np.nan)
    lo, hi, div = (1 - np.sqrt(1 - a)) ** 2, (1 + np.sqrt(1 - a)) ** 2, 2 * (2 - a)
    regime = np.select([c < lo, c < hi, c < div], ["monotone", "oscillatory", "flipping"], "divergent")
    rate = np.select([c < lo, c < hi, c < div],
                     [(2 - a - c + disc) / 2, np.sqrt(1 - a) * np.ones_like(c), (c + a - 2 + disc) / 2],
                     np.nan)
    return regime, rate


@pytest.mark.parametrize("a", A_VALUES)
def test_regime_table_on_a_dense_sweep_of_c(a):
    eta_d, eta_g, q = 0.1, 0.2, 1.0
    c = np.geomspace(1e-5, 10.0, 4001)
    lo, hi, div = iso.regime_boundaries_c(a)
    bounds = [4.0] if a == 0 else [lo, hi, div]
    near = np.zeros(c.shape, bool)
    for b in bounds:
        near |= np.abs(c / b - 1) < 1e-6  # double roots: rounding decides the label there
    c = c[~near]
    sigma = np.sqrt(eta_d * eta_g * q**2 / c)  # c = eta_d eta_g n q^2 / sigma^2, n = 1
    np.testing.assert_allclose(iso.coupling(q=q, n=1, eta_d=eta_d, eta_g=eta_g, sigma=sigma), c,
                               rtol=1e-14)
    r = iso.eigenvalues(p=q, q=q, n=1, eta_d=eta_d, eta_g=eta_g, lam=a / eta_d, sigma=sigma)
    regime, rate = _table(a, c)
    np.testing.assert_array_equal(r.regime, regime, err_msg=f"regime labels vs table (a = {a})")
    ok = ~np.isnan(rate)
    # The table's root formulas and the quadratic's roots agree to rounding; 1e-9 allows
    # for the sqrt of a discriminant that is ~1e-6 relative near the boundaries kept here.
    np.testing.assert_allclose(r.generator_rate[ok], rate[ok], rtol=0, atol=1e-9,
                               err_msg=f"generator rate vs table formulas (a = {a})")
    assert np.all(r.generator_rate[regime == "divergent"] > 1), "divergent rows must have rate > 1"


@pytest.mark.parametrize("a", A_VALUES[1:])
def test_boundaries_are_where_the_closed_forms_change_regime(a):
    eta_d, eta_g = 0.1, 0.2
    lo, hi = iso.oscillation_band(a)
    div = iso.divergence_threshold(a)
    np.testing.assert_allclose([lo, hi, div], [(1 - np.sqrt(1 - a)) ** 2, (1 + np.sqrt(1 - a)) ** 2,
                                               2 * (2 - a)], rtol=1e-14, err_msg="table boundaries")
    expected = [("monotone", "oscillatory"), ("oscillatory", "flipping"), ("flipping", "divergent")]
    for b, (below, above) in zip((lo, hi, div), expected, strict=True):
        c = np.array([b * (1 - 1e-5), b * (1 + 1e-5)])
        r = iso.eigenvalues(p=1.0, q=1.0, n=1, eta_d=eta_d, eta_g=eta_g, lam=a / eta_d,
                            sigma=np.sqrt(eta_d * eta_g / c))
        assert list(r.regime) == [below, above], f"brute-force labels around c = {b}"


def test_general_jury_divergence_threshold_with_mismatch():
    # Divergence through -1: eta_d eta_g n q^2 gamma > (2 - a)(2 - kappa) (theory section 5).
    eta_d, eta_g, lam, p, q, n = 0.1, 0.3, 0.5, 1.0, 0.4, 2
    a = eta_d * lam
    sig = np.geomspace(0.02, 0.5, 400)
    kappa = eta_g * q * (p - n * q) / (lam * sig**2)
    c = eta_d * eta_g * n * q**2 / sig**2
    thr = iso.divergence_threshold(a, kappa)
    np.testing.assert_allclose(thr, (2 - a) * (2 - kappa), rtol=1e-14)
    r = iso.eigenvalues(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sig)
    beyond_minus_one = r.rho_c.real.min(axis=-1) < -1
    keep = np.abs(c / thr - 1) > 1e-6
    # Both roots are real near the crossing, so "a root below -1" is the Jury condition.
    np.testing.assert_array_equal(beyond_minus_one[keep], (c > thr)[keep],
                                  err_msg="Jury condition through -1 vs closed-form roots")
    assert np.all(np.abs(r.rho_c).max(axis=-1)[c > thr * (1 + 1e-6)] > 1)


# -- derived quantities vs brute force ----------------------------------------------------

@pytest.mark.parametrize("c", [0.01, 0.1, 0.5, 0.9])
def test_best_lam_and_best_rate_by_brute_force(c):
    eta_d, eta_g, q = 0.1, 0.2, 1.0
    sigma = np.sqrt(eta_d * eta_g * q**2 / c)

    def rate(a):
        return iso.eigenvalues(p=q, q=q, n=1, eta_d=eta_d, eta_g=eta_g, lam=np.asarray(a) / eta_d,
                               sigma=sigma).generator_rate

    grid = np.linspace(1e-6, 1 - 1e-6, 2001)
    a0 = grid[np.argmin(rate(grid))]
    best = minimize_scalar(rate, bounds=(max(a0 - 1e-3, 0.0), min(a0 + 1e-3, 1.0)), method="bounded",
                           options={"xatol": 1e-12})
    a_star = eta_d * iso.best_lam(c, eta_d)
    # The optimum is a double root: on the monotone side the rate rises like sqrt(a - a*),
    # so a search to xatol 1e-12 in a gets the value to ~1e-6 and a to ~1e-6.
    np.testing.assert_allclose(a_star, best.x, atol=1e-5,
                               err_msg="best lam vs numerical minimisation of the closed-form rate")
    assert iso.best_rate(c) <= best.fun + 1e-8, "no lam beats best_rate (numerical minimisation)"
    assert best.fun - iso.best_rate(c) < 2e-6, "best_rate vs numerical minimisation"
    # At a* itself the double root splits by ~sqrt(eps) in floating point.
    np.testing.assert_allclose(rate(a_star), iso.best_rate(c), atol=1e-7,
                               err_msg="closed-form rate at best lam = 1 - sqrt(c)")


def test_best_lam_undefined_for_strong_coupling():
    assert np.isnan(iso.best_lam(1.5, 0.1)) and np.isnan(iso.best_rate(1.0))
    assert iso.best_lam(np.array([0.25, 2.0]), 0.1).shape == (2,)


def test_best_sigma_window_by_brute_force():
    q, n, eta_d, eta_g, lam = 0.8, 2, 0.1, 0.3, 2.0
    a = eta_d * lam
    lo, hi = iso.best_sigma_window(q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam)
    sig = np.geomspace(lo / 3, hi * 3, 3001)
    r = iso.eigenvalues(p=n * q, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sig)
    # delta = 0 makes the spread modes neutral (rate 1), so look at the pair.
    best = np.abs(np.abs(r.rho_c).max(axis=-1) - np.sqrt(1 - a)) < 1e-12
    inside = (sig > lo * (1 + 1e-6)) & (sig < hi * (1 - 1e-6))
    outside = (sig < lo * (1 - 1e-6)) | (sig > hi * (1 + 1e-6))
    assert best[inside].all() and not best[outside].any(), "best-sigma window vs brute-force scan"
    # And on the general Jacobian at the window's geometric centre.
    kernel = kg.Gaussian(sigma=float(np.sqrt(lo * hi)))
    gan, eq = _isolated_game([(n * q, n, q)], 2, kernel, lam)
    lin = kg.linearize(gan, eq, kg.GDA(eta_d, eta_g))
    # The spread modes are neutral (delta = 0) and invisible in the rate only if they are
    # not larger: here |rho_b| = 1 > sqrt(1 - a), so compare the pair through its modulus.
    pair = lin.eigenvalues[np.abs(np.abs(lin.eigenvalues) - 1) > 1e-9]
    np.testing.assert_allclose(np.abs(pair), np.sqrt(1 - a), rtol=1e-12,
                               err_msg="pair modulus sqrt(1 - eta_d lam) inside the window")


@pytest.mark.parametrize("lam", [0.0, 0.5, 5.0])
def test_divergence_sigma_by_brute_force(lam):
    q, n, eta_d, eta_g = 0.7, 3, 0.2, 0.4
    s_div = iso.divergence_sigma(q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam)
    r = iso.eigenvalues(p=n * q, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam,
                        sigma=np.array([s_div * (1 - 1e-6), s_div * (1 + 1e-6)]))
    rate_pair = np.abs(r.rho_c).max(axis=-1)
    assert rate_pair[0] > 1 > rate_pair[1] or (lam == 0 and rate_pair[0] > 1 >= rate_pair[1] - 1e-12), \
        f"pair rate around divergence_sigma: {rate_pair}"


@pytest.mark.parametrize("n", [1, 2])
def test_critical_damping_is_a_double_eigenvalue_of_the_continuous_matrix(n):
    q, mu, sigma = 0.6, 2.0, 0.5
    p = n * q
    lam_star = iso.critical_damping_lam(mu=mu, q=q, p=p, sigma=sigma)
    gaps = []
    for lam in (lam_star * (1 - 1e-3), lam_star, lam_star * (1 + 1e-3)):
        gan, eq = _isolated_game([(p, n, q)], 1, kg.Gaussian(sigma=sigma), lam)
        lin = kg.linearize(gan, eq, kg.GDA(0.01, mu * 0.01))
        ev = np.linalg.eigvals(lin.continuous)
        pair = ev[np.abs(ev) > 1e-9]  # the spread modes are 0 in continuous time at delta = 0
        assert pair.size == 2
        gaps.append((pair[0] - pair[1], pair))
    below, at, above = gaps
    assert abs(below[0].imag) > 0 and abs(below[0].real) < 1e-12, "underdamped below lam*: complex pair"
    assert abs(above[0].imag) == 0 and abs(above[0]) > 0, "overdamped above lam*: two real roots"
    # At a double root the computed pair splits by ~sqrt(eps) |lam| ~ 1e-8.
    assert abs(at[0]) < 1e-6 * lam_star, f"critical damping: pair {at[1]} should coincide"


def test_lone_point_closed_form_and_repulsion():
    rng = np.random.default_rng(7)
    mu, q, lam, sigma = (rng.uniform(0.1, 3, 400), rng.uniform(0.2, 2, 400),
                         rng.uniform(0.05, 3, 400), rng.uniform(0.1, 2, 400))
    eta_d = 0.1
    r = iso.eigenvalues(p=0.0, q=q, n=1, eta_d=eta_d, eta_g=mu * eta_d, lam=lam, sigma=sigma)
    a = eta_d * lam
    det = (1 - a) * (1 + mu * eta_d * q**2 / (lam * sigma**2))
    # Theory section 5: eigenvalues 1 and det.
    want = np.stack([np.ones_like(det), det], axis=-1)
    got = np.sort(r.rho_c.real, axis=-1)
    np.testing.assert_allclose(got, np.sort(want, axis=-1), rtol=0, atol=1e-12)
    assert np.abs(r.rho_c.imag).max() < 1e-9
    repelled = iso.lone_point_repelled(mu=mu, q=q, lam=lam, sigma=sigma, eta_d=eta_d)
    keep = np.abs(det - 1) > 1e-9
    np.testing.assert_array_equal(repelled[keep], (det > 1)[keep],
                                  err_msg="lone_point_repelled vs the closed-form det > 1")


@pytest.mark.parametrize("lam, repelled", [(0.3, True), (3.0, False)])
def test_lone_point_continuous_time_on_the_general_jacobian(lam, repelled):
    mu, q, sigma = 1.5, 0.8, 0.5
    kernel = kg.Gaussian(sigma=sigma)
    # One generated point 20 sigma from the only true point (p = 0 in the isolated model).
    gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kernel, lam)
    # find_equilibrium reports this point as a stall (vanishing gradient, theory section 10);
    # as the p = 0 model of section 5 it is a fixed point, so it is declared one here.
    stall = kg.find_equilibrium(gan, [[20 * sigma, 0.0]], q)
    assert stall.status is Status.VANISHING_GRADIENT, stall.message
    eq = kg.Equilibrium(y=stall.y, q=stall.q, residual=stall.residual, iterations=0,
                        status=Status.CONVERGED, message="lone point: p = 0 in the isolated model")
    lin = kg.linearize(gan, eq, kg.GDA(0.01, mu * 0.01))
    growth = np.linalg.eigvals(lin.continuous).real.max()
    assert iso.lone_point_repelled(mu=mu, q=q, lam=lam, sigma=sigma) == repelled
    assert (growth > 1e-9) == repelled, f"continuous-time growth {growth} vs mu q^2 > lam^2 sigma^2"


def test_simultaneous_pair_matches_authors_formula():
    rng = np.random.default_rng(11)
    num = 300
    p, q, n = rng.uniform(0.2, 2, num), rng.uniform(0.1, 1, num), rng.integers(1, 5, num)
    eta_d, eta_g = rng.uniform(0.01, 0.5, num), rng.uniform(0.01, 0.5, num)
    lam, sigma = rng.uniform(0.05, 3, num), rng.uniform(0.2, 2, num)
    r = iso.eigenvalues(p=p, q=q, n=n, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma, mode="simultaneous")
    gamma, mu, delta = 1 / sigma**2, eta_g / eta_d, p - n * q
    m = (lam + mu * q * gamma * delta / lam) / 2
    root = np.sqrt((m**2 - mu * q * p * gamma).astype(complex))
    want = np.stack([1 - eta_d * (m - root), 1 - eta_d * (m + root)], axis=-1)
    for i in range(num):
        assert oracles.match_eigenvalues(r.rho_c[i], want[i]) < 1e-10 * max(1, np.abs(want[i]).max()), \
            "rho_c = 1 - eta_d (m +- sqrt(m^2 - mu q p gamma)) (theory section 5)"


def test_broadcasting_shapes():
    r = iso.eigenvalues(p=np.ones((3, 1)), q=0.4, n=2, eta_d=0.1, eta_g=0.2,
                        lam=np.array([0.1, 0.5, 1.0, 2.0]), sigma=0.5)
    assert r.rho_a.shape == r.rho_b.shape == r.generator_rate.shape == (3, 4)
    assert r.rho_c.shape == (3, 4, 2)
    assert r.regime.shape == (3, 4) and r.regime.dtype.kind == "U"
    s = iso.eigenvalues(eta_d=0.1, eta_g=0.1, lam=0.5, sigma=0.3)
    assert isinstance(s.regime, str) and s.rho_c.shape == (2,)
    lo, hi = iso.best_sigma_window(q=0.8, n=1, eta_d=0.1, eta_g=np.array([0.1, 0.2]), lam=np.ones((3, 1)))
    assert lo.shape == hi.shape == (3, 2)


def test_lam_zero_with_mismatch_is_undetermined():
    r = iso.eigenvalues(p=1.0, q=np.array([0.5, 1.0]), n=1, eta_d=0.1, eta_g=0.1, lam=0.0, sigma=1.0)
    assert list(r.regime) == ["undetermined", "cycling"]


@pytest.mark.parametrize("kwargs, name", [
    ({"sigma": 0.0}, "sigma"), ({"sigma": -1.0}, "sigma"), ({"lam": -0.1}, "lam"),
    ({"eta_d": 0.0}, "eta_d"), ({"eta_g": -1.0}, "eta_g"), ({"q": 0.0}, "q"), ({"p": -1.0}, "p"),
    ({"n": 1.5}, "n"), ({"n": 0}, "n"), ({"mode": "sideways"}, "mode"), ({"sigma": np.nan}, "sigma"),
    ({"lam": np.inf}, "lam"),
])
def test_bad_input(kwargs, name):
    args = {"p": 1.0, "q": 0.8, "n": 1, "eta_d": 0.1, "eta_g": 0.1, "lam": 0.5, "sigma": 0.3} | kwargs
    with pytest.raises(ValueError, match=name):
        iso.eigenvalues(**args)


def test_simultaneous_diverges_where_alternating_converges(rng):
    """Isolated point, delta = 0, a = 0.05, c = 0.08: simultaneous det = 1 - a + c > 1, while
    alternating sits in the oscillation band with rate sqrt(1 - a) (theory section 5)."""
    p = q = 1.0
    sigma, lam, eta_d, eta_g = 0.5, 0.5, 0.1, 0.2
    gan = kg.KernelGAN([[0.0, 0.0]], p, kg.Gaussian(sigma=sigma), lam)
    eq = kg.find_equilibrium(gan, [[0.0, 0.0]], q)
    e0 = unit(rng, (1, 2), 1e-6 * sigma)
    result = {}
    for mode in MODES:
        gda = kg.GDA(eta_d, eta_g, mode)
        lin = kg.linearize(gan, eq, gda)
        r = iso.eigenvalues(p=p, q=q, n=1, eta_d=eta_d, eta_g=eta_g, lam=lam, sigma=sigma, mode=mode)
        traj = kg.simulate(gan, gda, eq.y + e0, q, 600, start=eq)
        dist = traj.distance(eq.y)
        result[mode] = (lin.regime, r.regime, dist[-1] / dist[0])
    assert result["simultaneous"][:2] == ("divergent", "divergent")
    assert result["alternating"][:2] == ("oscillatory", "oscillatory")
    # Over 600 steps: sqrt(1.03)^600 ~ 7e3 growth, sqrt(0.95)^600 ~ 2e-7 decay.
    assert result["simultaneous"][2] > 1e3, f"simultaneous run must grow: {result}"
    assert result["alternating"][2] < 1e-5, f"alternating run must converge: {result}"
