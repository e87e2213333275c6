"""Where the catalogue starts Newton, and when two fixed points are the same (theory sections 3, 9, 10).

Newton's method finds the fixed point whose basin (of Newton, not of GDA) holds its start, so a
catalogue is only as complete as its starts. Three families are used:

- **given** starts, as they are;
- **structured** starts (:func:`structured_starts`): the generated points split into groups, one
  group per true point (*site*; coincident true points are one site), each group placed
  symmetrically around its site along the first coordinate axis. The splits are the balanced
  one (group sizes proportional to the sites' masses), all points on one site (mode collapse
  onto that site), and ``k = 2..n-1`` points on one site with the rest balanced over the
  others. Each split is placed with its groups coincident (spread 0), at the section-9
  stationary spread of each group where it carries excess mass (theory section 9; the
  straddling collapse of section 10 is the spread fixed point it approximates), and at
  standard deviations :data:`SPREAD_FRACTIONS` of the kernel's length scale. Spurious fixed
  points between true points (theory section 3) are sought from *bridge* starts: for each site
  and its nearest other site, all points at their midpoint, and one point there with the rest
  balanced over the sites; and from *satellite* starts: in the balanced split and in each
  all-on-one-site split, one point of a group moved :data:`SATELLITE` length scales from its
  site to either side along the first axis and the rest of the group :data:`RECOIL` length
  scales the other way (spurious fixed points with a point on the flank of a true point's
  kernel, where its pull balances the repulsion of the points on it; Newton from a satellite
  without the recoil stalls or falls back onto the site);
- **random** starts (:func:`random_starts`): every point on a site drawn with probability
  proportional to the site's mass, plus Gaussian noise of :data:`RANDOM_SCALE` length scales.

Fixed points are the same when a permutation of *equal-weight* generated points maps one onto the
other within :data:`SAME_TOL` length scales (:func:`distance`); points of different weights are
never exchanged, since exchanging them changes the generated distribution.
"""

from __future__ import annotations

import numpy as np

from ..game import KernelGAN
from ..linearize import distinct_locations
from ..smm import stationary_spread

__all__ = ["SPREAD_FRACTIONS", "RANDOM_SCALE", "SAME_TOL", "EQUAL_WEIGHT_RTOL", "SATELLITE", "RECOIL",
           "weight_groups",
           "distance", "structured_starts", "random_starts", "splits"]

#: Standard deviations of a group of the structured starts, in length scales. The straddling
#: collapse of theory section 10 has its points 0.5-0.7 length scales from their true point;
#: Newton from a coincident pair (spread 0) finds the coincident collapse instead.
SPREAD_FRACTIONS = (0.25, 0.5, 0.75)
#: Standard deviation of the noise of a random start, in length scales: half the reach of a
#: true point's pull (theory section 4, ``ASSIGN_RADIUS``), so that most random starts stay in
#: reach of the site they were drawn on and some land between sites.
RANDOM_SCALE = 0.5
#: Two fixed points are the same when they differ by at most this many length scales (after the
#: best permutation of equal-weight points). Newton places points to ~1e-10 length scales (its
#: residual is 1e-12 relative) and merges points closer than 1e-3 length scales when that is
#: still a fixed point (``kernelgda.equilibrium.SNAP_TOL``); distinct fixed points of the
#: catalogue's test cases are at least 1e-2 length scales apart.
SAME_TOL = 1e-6
#: Generated weights within this relative tolerance of each other are equal (exchangeable).
EQUAL_WEIGHT_RTOL = 1e-12
#: Distance of a satellite start's moved point from its site, in length scales: the flank
#: fixed points of issue 19's case sit 1.4-1.9 length scales from their true point.
SATELLITE = 2.0
#: How far the rest of a satellite's group is moved the other way, in length scales.
RECOIL = 0.25


def weight_groups(q: np.ndarray) -> list[np.ndarray]:
    """Indices of the generated points of equal weight, one array per weight (trusted input).

    >>> [g.tolist() for g in weight_groups(np.array([0.5, 0.2, 0.5]))]
    [[0, 2], [1]]
    """
    groups: list[list[int]] = []
    for j, qj in enumerate(q):
        for g in groups:
            if abs(q[g[0]] - qj) <= EQUAL_WEIGHT_RTOL * max(abs(qj), abs(q[g[0]])):
                g.append(j)
                break
        else:
            groups.append([j])
    return [np.array(g) for g in groups]


def distance(a: np.ndarray, b: np.ndarray, groups: list[np.ndarray]) -> float:
    """Largest point distance between configurations ``a`` and ``b`` (both ``(n, d)``), after the
    permutation within each group of equal-weight points that minimises the sum of squared
    distances (an optimal assignment; trusted inputs).

    >>> groups = weight_groups(np.array([0.5, 0.5]))
    >>> distance(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]), groups)
    0.0
    """
    from scipy.optimize import linear_sum_assignment  # lazy: scipy.optimize is slow to import

    worst = 0.0
    for g in groups:
        diff = a[g][:, None, :] - b[g][None, :, :]
        cost = (diff * diff).sum(-1)
        rows, cols = linear_sum_assignment(cost)
        worst = max(worst, float(np.sqrt(cost[rows, cols].max())))
    return worst


def _balanced(n: int, mass: np.ndarray) -> np.ndarray:
    """``n`` points over the sites in proportion to ``mass`` (largest remainders; ties to the
    heavier, then earlier site)."""
    share = n * mass / mass.sum()
    counts = np.floor(share).astype(int)
    order = sorted(range(mass.size), key=lambda s: (-(share[s] - counts[s]), -mass[s], s))
    for s in order[: n - counts.sum()]:
        counts[s] += 1
    return counts


def splits(n: int, mass: np.ndarray) -> list[tuple[int, ...]]:
    """Group sizes per site of the structured starts (module docstring), without repeats.

    >>> splits(2, np.array([0.3, 0.7]))
    [(1, 1), (2, 0), (0, 2)]
    """
    out = [tuple(int(c) for c in _balanced(n, mass))]
    num = mass.size
    for s in range(num):
        for k in range(n, 1, -1):
            counts = np.zeros(num, dtype=int)
            counts[s] = k
            rest = np.delete(np.arange(num), s)
            if n - k and rest.size:
                counts[rest] = _balanced(n - k, mass[rest])
            elif n - k:
                continue  # one site only: the rest has nowhere to go
            key = tuple(int(c) for c in counts)
            if key not in out:
                out.append(key)
    return out


def _place(sites, counts, stds, n, d) -> np.ndarray:
    """Points ``(n, d)``: the group of each site evenly spaced on a segment along the first axis,
    centred on the site, with standard deviation ``stds[s]`` (a segment ``[-a, a]`` of ``k``
    even points has variance ``a^2 (k + 1) / (3 (k - 1))``)."""
    y = np.empty((n, d))
    j = 0
    for s, k in enumerate(counts):
        y[j:j + k] = sites[s]
        if k > 1:
            a = stds[s] * np.sqrt(3.0 * (k - 1) / (k + 1))
            y[j:j + k, 0] += np.linspace(-a, a, k)
        j += k
    return y


def _smm_std(gan: KernelGAN, mass: np.ndarray, counts, q: np.ndarray) -> np.ndarray | None:
    """Per-site standard deviation at the section-9 stationary spread (``sqrt(tr S_inf)``), for
    the groups of two or more points with excess mass; ``None`` when no group has one or the
    kernel has no second-moment model (theory section 9)."""
    stds = np.zeros(mass.size)
    j, found = 0, False
    for s, k in enumerate(counts):
        if k > 1:
            try:
                spread = stationary_spread(gan.kernel, p=mass[s], q=float(q[j:j + k].mean()), n=k,
                                           d=gan.d)
            except ValueError:  # a kernel without g, g2: no second-moment model
                return None
            if np.isfinite(spread):
                stds[s], found = np.sqrt(spread), True
        j += k
    return stds if found else None


def structured_starts(gan: KernelGAN, q: np.ndarray, fractions=SPREAD_FRACTIONS) -> np.ndarray:
    """The structured starts of the module docstring, ``(S, n, d)`` (trusted inputs).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[-1.0], [1.0]], [0.3, 0.7], kg.Gaussian(sigma=0.3), lam=3.0)
    >>> y = structured_starts(gan, np.array([0.5, 0.5]))
    >>> y.shape
    (21, 2, 1)
    >>> np.round(y[[0, 2, 8], :, 0], 4).tolist()   # balanced; on -1 at the SMM spread; on +1, 0.25 L
    [[-1.0, 1.0], [-1.2049, -0.7951], [0.925, 1.075]]
    """
    n, d = q.size, gan.d
    scale = gan.kernel.length_scale
    sites, site_of = distinct_locations(gan.x_true, scale)
    mass = np.bincount(site_of, weights=gan.p_true, minlength=sites.shape[0])
    out = []
    for counts in splits(n, mass):
        out.append(_place(sites, counts, np.zeros(mass.size), n, d))
        if max(counts) < 2:
            continue  # single points: their spread does not exist
        smm = _smm_std(gan, mass, counts, q)
        if smm is not None:
            out.append(_place(sites, counts, smm, n, d))
        for f in fractions:
            out.append(_place(sites, counts, np.full(mass.size, f * scale), n, d))
    out += _bridges(sites, mass, n)
    out += _satellites(sites, mass, n, scale)
    return np.array(out).reshape(len(out), n, d)


def _satellites(sites: np.ndarray, mass: np.ndarray, n: int, scale: float) -> list[np.ndarray]:
    """Satellite starts (module docstring): the balanced and the all-on-one-site splits, each
    group's last point moved ``SATELLITE`` length scales to either side of its site and the
    group's other points ``RECOIL`` length scales the other way."""
    num, d = sites.shape
    chosen = [c for i, c in enumerate(splits(n, mass)) if i == 0 or max(c) == n]
    out = []
    for counts in chosen:
        base = _place(sites, counts, np.zeros(num), n, d)
        end = np.cumsum(counts)
        for s in np.flatnonzero(np.asarray(counts) > 0):
            for side in (-1.0, 1.0):
                y = base.copy()
                y[end[s] - counts[s]:end[s] - 1, 0] -= side * RECOIL * scale
                y[end[s] - 1, 0] += side * SATELLITE * scale
                out.append(y)
    return out


def _bridges(sites: np.ndarray, mass: np.ndarray, n: int) -> list[np.ndarray]:
    """Starts at the midpoint of each site and its nearest other site: all points there, and
    one point there with the others balanced over the sites (module docstring)."""
    num, d = sites.shape
    if num < 2:
        return []
    gaps = ((sites[:, None, :] - sites[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(gaps, np.inf)
    pairs = sorted({tuple(sorted((s, int(np.argmin(gaps[s]))))) for s in range(num)})
    out = []
    for s, t in pairs:
        mid = (sites[s] + sites[t]) / 2
        out.append(np.tile(mid, (n, 1)))
        if n > 1:
            rest = _place(sites, _balanced(n - 1, mass), np.zeros(num), n - 1, d)
            out.append(np.vstack([mid[None], rest]))
    return out


def random_starts(gan: KernelGAN, n: int, num: int, rng: np.random.Generator) -> np.ndarray:
    """``num`` random starts ``(num, n, d)``: each point on a site drawn with probability
    proportional to its mass, plus ``N(0, (RANDOM_SCALE L)^2)`` noise per coordinate.

    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0, 0.0]], 1.0, kg.Gaussian(sigma=2.0), lam=1.0)
    >>> random_starts(gan, 3, 4, np.random.default_rng(0)).shape
    (4, 3, 2)
    """
    scale = gan.kernel.length_scale
    sites, site_of = distinct_locations(gan.x_true, scale)
    mass = np.bincount(site_of, weights=gan.p_true, minlength=sites.shape[0])
    pick = rng.choice(sites.shape[0], size=(num, n), p=mass / mass.sum())
    return sites[pick] + RANDOM_SCALE * scale * rng.standard_normal((num, n, gan.d))
