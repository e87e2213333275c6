"""The catalogue of fixed points: Newton from many starts, deduplicated (theory sections 3, 4, 10).

:func:`fixed_points` runs :func:`kernelgda.find_equilibrium` from every start of
:mod:`kernelgda.catalogue.starts` (given, structured, random), keeps each genuine fixed point
once (equal-weight generated points may be permuted), names it
(:func:`kernelgda.linearize.fixed_point_kind`) and, for a given :class:`~kernelgda.GDA`, decides
whether it is a local minimum from the spectral radius of its linearization (theory section 4).
Starts from which Newton fails or stalls far from the data are counted, never dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .. import _validate as V
from ..equilibrium import TOL, Equilibrium, find_equilibrium
from ..game import GDA, KernelGAN
from ..generators import Generator, Points
from ..linearize import FixedPointKind, fixed_point_kind, linearize, require_smooth
from ..resources import check_bytes, format_count, pairwise_bytes, points_bytes
from ..status import Status
from .starts import SAME_TOL, SPREAD_FRACTIONS, distance, random_starts, structured_starts, weight_groups

__all__ = ["FixedPoint", "Catalogue", "fixed_points", "NUM_RANDOM", "MAX_STARTS", "NO_FSTAR"]

#: Random starts by default (:func:`kernelgda.catalogue.starts.random_starts`).
NUM_RANDOM = 16
#: Most starts one call may run: each is a Newton solve of at most ``max_iter`` iterations of
#: cost ``O((n d)^3)``, so this bounds the time of a call; raise it deliberately.
MAX_STARTS = 2000
#: Failure label of a start that reached a stationary point with ``MMD^2 > 0`` at ``lam = 0``,
#: where ``f*`` does not exist (theory section 3).
NO_FSTAR = "no_fstar"


@dataclass(frozen=True, eq=False)
class FixedPoint:
    """One entry of a :class:`Catalogue`.

    Attributes
    ----------
    y : (n, d) array
        The fixed point ``Y*``.
    q : (n,) array
        Generated weights.
    kind : FixedPointKind
        What it is (:func:`kernelgda.linearize.fixed_point_kind`): ``kind.kind`` is perfect fit,
        fit, partial fit, collapse or spurious; ``kind.owner``, ``kind.shared`` and
        ``kind.empty`` say which true points are covered.
    spectral_radius : float
        Of the linearized GDA map (theory section 4) for the catalogue's ``gda``; ``nan`` without one.
    stable : bool or None
        ``spectral_radius < 1``: a local minimum (``None`` without a ``gda``).
    mmd2 : float
        ``MMD_K^2`` between the generated and true distributions (theory section 1).
    count : int
        How many of the catalogue's starts reached it (0 for a fixed point found from the end of
        a run by :meth:`Catalogue.basins`).
    sources : dict
        ``{"given" | "structured" | "random" | "run": count}``: where its starts came from.
    equilibrium : Equilibrium
        The converged Newton result (for :func:`~kernelgda.linearize`, :func:`~kernelgda.check_rate`).
    length_scale : float
        The kernel's length scale (the unit of the tolerances).

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> e = kg.fixed_points(gan, [1.0], gda=kg.GDA(0.1, 0.1), num_random=0)[0]
    >>> e.label, e.stable, e.count, float(e.y[0, 0])
    ('perfect fit', True, 1, 0.0)
    """

    y: np.ndarray
    q: np.ndarray
    kind: FixedPointKind
    spectral_radius: float
    stable: bool | None
    mmd2: float
    count: int
    sources: dict
    equilibrium: Equilibrium
    length_scale: float

    @property
    def residual(self) -> float:
        """``max_j |grad f*(y_j*)|`` at the fixed point (:attr:`Equilibrium.residual`)."""
        return self.equilibrium.residual

    @property
    def theta(self):
        """A parametric generator's parameters ``theta*`` (``None`` for free points)."""
        return self.equilibrium.theta

    @property
    def gradient_kind(self):
        """For a generator: ``"perfect-gradient"`` or ``"parametric"`` (theory section 12)."""
        return self.equilibrium.gradient_kind

    @property
    def label(self) -> str:
        """Short name: the kind with the true points covered and, per shared true point, whether
        its points coincide or spread around it, e.g. ``"collapse on 1 (2 points, spread)"``."""
        k = self.kind
        if k.kind in ("perfect fit", "fit"):
            return k.kind
        if k.kind == "spurious":
            return f"spurious ({len(k.unassigned)} point{'s' * (len(k.unassigned) > 1)} off the data)"
        covered = sorted({int(i) for i in k.owner if i >= 0})
        scale = SAME_TOL * self.length_scale
        parts = []
        for _, js in k.shared:
            spread = float(np.ptp(self.y[list(js)], axis=0).max())
            parts.append(f"{len(js)} points, {'spread' if spread > scale else 'coincident'}")
        return f"{k.kind} on {', '.join(map(str, covered))}" + (f" ({'; '.join(parts)})" if parts else "")

    @property
    def description(self) -> str:
        """One sentence (:attr:`FixedPointKind.description`)."""
        return self.kind.description


def _stable_first(entry: FixedPoint):
    """Stable, unjudged, unstable; then by MMD^2 to 10 digits (mirror images tie to rounding),
    then by the coordinates."""
    rank = {True: 0, None: 1, False: 2}[entry.stable]
    return rank, float(f"{entry.mmd2:.10g}"), tuple(entry.y.ravel())


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Every fixed point :func:`fixed_points` found, stable ones first.

    Attributes
    ----------
    gan : KernelGAN
    q : (n,) array
    gda : GDA or None
        The GDA whose linearization decides ``stable``.
    entries : tuple of FixedPoint
        Stable entries first, then by ``MMD^2`` (to 10 digits, then by the coordinates; entries
        added by :meth:`basins` come last).
    num_starts : int
    sources : dict
        Starts per family (``given``, ``structured``, ``random``).
    failures : dict
        ``{status label: count}`` of the starts that gave no fixed point: ``not_converged``,
        ``vanishing_gradient`` (a stall far from the data, theory section 10) and, at
        ``lam = 0``, :data:`NO_FSTAR`.
    seed : int
    status : Status
        ``CONVERGED`` when at least one fixed point was found, ``NOT_CONVERGED`` otherwise.
    message : str

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[-1.0], [1.0]], [0.5, 0.5], kg.Gaussian(sigma=0.4), lam=1.0)
    >>> cat = kg.fixed_points(gan, [0.5, 0.5], gda=kg.GDA(0.1, 0.01), num_random=0)
    >>> len(cat), [e.label for e in cat.stable]
    (8, ['perfect fit', 'collapse on 0 (2 points, spread)', 'collapse on 1 (2 points, spread)'])
    >>> cat.match([[1.0], [-1.0]])      # the fit, with the two equal-weight points exchanged
    0
    """

    gan: KernelGAN
    q: np.ndarray
    gda: GDA | None
    entries: tuple
    num_starts: int
    sources: dict
    failures: dict
    seed: int
    status: Status
    message: str
    tol: float = field(default=TOL, repr=False)
    max_iter: int = field(default=100, repr=False)
    generator: Generator | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __getitem__(self, i) -> FixedPoint:
        return self.entries[i]

    @property
    def stable(self) -> tuple:
        """The entries that are local minima."""
        return tuple(e for e in self.entries if e.stable)

    @property
    def num_failed(self) -> int:
        return int(sum(self.failures.values()))

    def match(self, y, *, tol: float = SAME_TOL) -> int:
        """Index of the entry within ``tol`` length scales of configuration ``y`` (equal-weight
        points permuted), or -1."""
        y, _ = self.gan.check_generated(y, self.q)
        tol = V.scalar(tol, "tol", positive=True) * self.gan.kernel.length_scale
        groups = weight_groups(self.q)
        best, where = math.inf, -1
        for i, e in enumerate(self.entries):
            dist = distance(y, e.y, groups)
            if dist <= tol and dist < best:
                best, where = dist, i
        return where

    def with_gda(self, gda: GDA) -> Catalogue:
        """The same fixed points judged for another GDA (order of entries kept)."""
        if not isinstance(gda, GDA):
            raise ValueError(f"gda must be a GDA, got {type(gda).__name__}")
        entries = tuple(_judge(self.gan, e, gda) for e in self.entries)
        return replace(self, gda=gda, entries=entries)

    def extended(self, ys) -> tuple[Catalogue, np.ndarray]:
        """Newton from each configuration of ``ys (R, n, d)``; fixed points not yet listed are
        appended (``count`` 0, source ``run``).

        Returns the extended catalogue and, per configuration, the index of the entry Newton
        reached (``-1`` where it failed or stalled).
        """
        ys = np.asarray(ys, dtype=float)
        entries = list(self.entries)
        index = np.full(ys.shape[0], -1)
        groups = weight_groups(self.q)
        for r, y0 in enumerate(ys):
            eq = _solve(self.gan, y0, self.q, self.tol, self.max_iter)
            if isinstance(eq, Equilibrium) and eq.converged:
                index[r] = _add(entries, self.gan, eq, groups, "run", count=False)
        entries = [e if isinstance(e, FixedPoint) else _entry(self.gan, *e, self.gda) for e in entries]
        return replace(self, entries=tuple(entries)), index

    def basins(self, gda: GDA, starts, num_steps: int, **options):
        """Exact runs from ``starts``, each end state assigned to an entry or to an outcome
        (:func:`kernelgda.catalogue.basins.basins`, which documents ``options``)."""
        from .basins import basins

        return basins(self, gda, starts, num_steps, **options)


def _generator_starts(gen: Generator, point_starts, num_random: int, rng) -> list:
    """Parameter starts for a generator: its own ``theta``, ``theta`` fitted to each point start
    (least squares on ``|G(theta, Z) - Y|^2``, so straddling and collapsed configurations the
    generator can express are tried), and ``num_random`` draws ``theta + N(0, s^2)`` with ``s`` the
    spread of ``theta``'s entries."""
    from scipy.optimize import least_squares

    out = [gen.theta]
    for y in point_starts:
        fit = least_squares(lambda th, y=y: (gen.points(th) - y).ravel(), gen.theta,
                            jac=gen.jacobian, max_nfev=50)
        if np.all(np.isfinite(fit.x)):
            out.append(np.asarray(fit.x, dtype=float))
    scale = float(np.std(gen.theta)) or 1.0
    out += [gen.theta + scale * rng.standard_normal(gen.num_params) for _ in range(num_random)]
    return out


def _solve(gan, y0, q, tol, max_iter):
    """The one call to the solver: an :class:`Equilibrium`, or :data:`NO_FSTAR` where ``lam = 0``
    and the stationary point is no perfect match (then ``f*`` does not exist, theory section 3)."""
    try:
        return find_equilibrium(gan, y0, q, tol=tol, max_iter=max_iter)
    except ValueError as exc:
        if gan.lam == 0 and str(exc).startswith("lam = 0"):
            return NO_FSTAR
        raise


def _add(entries: list, gan, eq, groups, source, *, count=True) -> int:
    """Index of ``eq``'s fixed point in ``entries`` (a list of ``FixedPoint`` or pending
    ``(eq, count, sources)``), appending it when it is new."""
    tol = SAME_TOL * gan.kernel.length_scale
    for i, e in enumerate(entries):
        y = e.y if isinstance(e, FixedPoint) else e[0].y
        if distance(eq.y, y, groups) <= tol:
            if not isinstance(e, FixedPoint):
                e[2][source] = e[2].get(source, 0) + 1
                e[1] += count
            return i
    entries.append([eq, int(count), {source: 1}])
    return len(entries) - 1


def _entry(gan, eq, count, sources, gda) -> FixedPoint:
    entry = FixedPoint(y=eq.y, q=eq.q, kind=fixed_point_kind(gan, eq.y, eq.q), spectral_radius=math.nan,
                       stable=None, mmd2=gan.mmd2(eq.y, eq.q), count=count, sources=dict(sources),
                       equilibrium=eq, length_scale=gan.kernel.length_scale)
    return entry if gda is None else _judge(gan, entry, gda)


def _judge(gan, entry: FixedPoint, gda: GDA) -> FixedPoint:
    radius = linearize(gan, entry.equilibrium, gda).spectral_radius
    return replace(entry, spectral_radius=radius, stable=bool(radius < 1),
                   kind=fixed_point_kind(gan, entry.y, entry.q, spectral_radius=radius))


def _check_size(gan, n, num_starts, max_starts, max_memory):
    if num_starts > max_starts:
        raise ValueError(f"fixed_points: {num_starts} starts, over max_starts = {max_starts} (each is a "
                         "Newton solve); ask for fewer random starts, pass structured=False, or raise "
                         "max_starts")
    d, m = gan.d, gan.m
    # The starts, Newton's dense pairwise blocks and Jacobian, and a linearization of size
    # 2 (L + n) d <= 4 n d (twice the reduced state for optimistic and momentum GDA).
    nbytes = (points_bytes(num_starts * n, d) + pairwise_bytes(n, n + m, 2 * d * d)
              + pairwise_bytes(n * d, n * d) + 2 * pairwise_bytes(4 * n * d, 4 * n * d))
    check_bytes(nbytes, "fixed-point catalogue", limit=max_memory, hint="use fewer generated points",
                detail=f"{format_count(num_starts)} starts of {format_count(n)} points in d = {d}, "
                       "Newton blocks and linearization")


def fixed_points(gan: KernelGAN, q, *, gda: GDA | None = None, starts=None,
                 num_random: int = NUM_RANDOM, seed: int = 0, structured: bool = True,
                 spread_fractions=SPREAD_FRACTIONS, tol: float = TOL, max_iter: int = 100,
                 max_starts: int = MAX_STARTS, max_memory=None, generator: Generator | None = None
                 ) -> Catalogue:
    """Every fixed point Newton's method finds from many starts, deduplicated (theory section 3).

    Parameters
    ----------
    gan : KernelGAN
    q : (n,) array
        Generated weights ``q_j > 0``; their number is the number ``n`` of generated points.
    gda : GDA, optional
        Decides ``stable`` from the spectral radius of each fixed point's linearization (theory
        section 4): stability depends on the learning rates and the rule. Without it,
        ``spectral_radius`` is ``nan`` and ``stable`` is ``None`` (:meth:`Catalogue.with_gda`
        judges later).
    starts : (n, d) or (S, n, d) array, optional
        Starts of your own (tried first).
    num_random : int >= 0
        Random starts around the true points (:mod:`kernelgda.catalogue.starts`).
    seed : int
        Seed of the random starts: the catalogue is the same for the same seed.
    structured : bool
        Also the structured starts (splits over the true points, coincident and straddling:
        :func:`~kernelgda.catalogue.starts.structured_starts`).
    spread_fractions : sequence of float
        Group standard deviations of the structured starts, in length scales.
    tol, max_iter
        Newton's relative tolerance and iterations per start (:func:`~kernelgda.find_equilibrium`).
    max_starts : int
        Refuse more starts than this (time bound, :data:`MAX_STARTS`).
    max_memory : int or str, optional
        Memory limit (:func:`kernelgda.resources.check_bytes`), checked before any solve.
    generator : Generator, optional
        A parametric generator (theory section 12; ``q`` still gives the weights of its ``n``
        points): the starts become parameter vectors (its ``theta``, ``theta`` fitted by least
        squares to every point start, and ``num_random`` perturbations of ``theta``), each is
        solved by :func:`~kernelgda.find_equilibrium` with the generator, and entries carry
        ``theta`` and ``gradient_kind``. Entries are deduplicated by their points.

    Returns
    -------
    Catalogue
        Entries stable first, then by ``MMD^2``; failed and stalled starts in ``failures``.

    Raises
    ------
    ValueError
        For bad input, a kernel not differentiable at coincident points (the Laplacian: no
        linearization, no snapping of coincident points), or more starts or memory than allowed.

    Notes
    -----
    Time ``O(S max_iter (n d)^3)`` for ``S`` starts, memory ``O(S n d + n (n + m) d^2)``.

    Examples
    --------
    The case of issue 19: two generated points, true points -1 and +1 of weights 0.3 and 0.7.

    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[-1.0], [1.0]], [0.3, 0.7], kg.Gaussian(sigma=0.3), lam=3.0)
    >>> cat = kg.fixed_points(gan, [0.5, 0.5], gda=kg.GDA(0.1, 0.01), num_random=0)
    >>> for e in cat:
    ...     print(f"{e.label:<36} {e.spectral_radius:.4f} {e.stable!s:<5} {e.count}")
    fit                                  0.9943 True  1
    collapse on 1 (2 points, spread)     0.9916 True  3
    collapse on 0 (2 points, spread)     0.9993 True  3
    ...
    >>> np.round(cat[1].y[:, 0], 4).tolist()   # straddling +1
    [0.8537, 1.1463]
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    q = V.array(q, "q", positive=True)
    if q.ndim != 1 or q.size == 0:
        raise ValueError(f"q must be a 1-d array of the n > 0 generated weights, got shape {q.shape}")
    if gda is not None and not isinstance(gda, GDA):
        raise ValueError(f"gda must be a GDA or None, got {type(gda).__name__}")
    require_smooth(gan.kernel)
    n = q.size
    num_random = V.integer(num_random, "num_random", minimum=0)
    seed = V.integer(seed, "seed", minimum=0)
    max_starts = V.integer(max_starts, "max_starts", minimum=1)
    tol = V.scalar(tol, "tol", positive=True)
    max_iter = V.integer(max_iter, "max_iter", minimum=1)
    fractions = V.array(spread_fractions, "spread_fractions", positive=True).ravel()
    given = np.empty((0, n, gan.d))
    if starts is not None:
        arr = V.array(starts, "starts")
        arr = arr[None] if arr.ndim == 2 else arr
        if arr.ndim != 3 or arr.shape[1:] != (n, gan.d):
            raise ValueError(f"starts must have shape ({n}, {gan.d}) or (S, {n}, {gan.d}), got "
                             f"{np.shape(starts)}")
        given = arr
    if isinstance(generator, Points):
        generator = None
    if generator is not None:
        if not isinstance(generator, Generator):
            raise ValueError(f"generator must be a kernelgda generator or None, got {generator!r}")
        if (generator.n, generator.d) != (n, gan.d):
            raise ValueError(f"the generator makes {generator.n} points in d = {generator.d}; q has {n} "
                             f"weights and the true points have d = {gan.d}")
        check_bytes(8 * 4 * generator.num_params ** 2, "fixed-point catalogue (generator Newton blocks)",
                    limit=max_memory, detail=f"{format_count(generator.num_params)}^2 float64 x 4",
                    hint="use a smaller generator")
    num_structured = structured_starts(gan, q, fractions).shape[0] if structured else 0
    _check_size(gan, n, given.shape[0] + num_structured + num_random, max_starts, max_memory)
    families = [("given", given)]
    if structured:
        families.append(("structured", structured_starts(gan, q, fractions)))
    families.append(("random", random_starts(gan, n, num_random, np.random.default_rng(seed))))
    if generator is not None:  # the same families, as parameter vectors (_generator_starts)
        rng = np.random.default_rng(seed)
        point_starts = np.concatenate([ys for _, ys in families[:-1]])
        thetas = _generator_starts(generator, point_starts, num_random, rng)
        families = [("given", [generator.with_theta(th) for th in thetas[:1]])]
        structured_thetas = thetas[1:len(thetas) - num_random]
        if structured_thetas:
            families.append(("structured", [generator.with_theta(th) for th in structured_thetas]))
        families.append(("random", [generator.with_theta(th) for th in thetas[len(thetas) - num_random:]]))

    pending: list = []
    failures: dict = {}
    groups = weight_groups(q)
    for source, ys in families:
        for y0 in ys:
            eq = _solve(gan, y0, q, tol, max_iter)
            if isinstance(eq, str) or not eq.converged:
                label = eq if isinstance(eq, str) else eq.status.label
                failures[label] = failures.get(label, 0) + 1
                continue
            _add(pending, gan, eq, groups, source)
    entries = sorted((_entry(gan, eq, count, src, gda) for eq, count, src in pending), key=_stable_first)
    num_starts = sum(len(ys) for _, ys in families)
    num_failed = sum(failures.values())
    num_stable = sum(1 for e in entries if e.stable)
    message = (f"{len(entries)} fixed point{'s' * (len(entries) != 1)}"
               + (f" ({num_stable} stable)" if gda is not None else "")
               + f" from {num_starts} starts; {num_failed} gave none"
               + (" (" + ", ".join(f"{c} {k}" for k, c in sorted(failures.items())) + ")"
                  if failures else ""))
    return Catalogue(gan=gan, q=q, gda=gda, entries=tuple(entries), num_starts=num_starts,
                     sources={s: len(ys) for s, ys in families}, failures=failures, seed=seed,
                     status=Status.CONVERGED if entries else Status.NOT_CONVERGED, message=message,
                     tol=tol, max_iter=max_iter, generator=generator)
