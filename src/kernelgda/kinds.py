"""What a fixed point is: fit, collapse, spurious point, ... (theory sections 3 and 10).

:func:`fixed_point_kind` assigns every generated point to the nearest true point within
:data:`ASSIGN_RADIUS` length scales and names the configuration; with a spectral radius from
:func:`kernelgda.linearize` it also says whether the fixed point is a local minimum of GDA.
:func:`distinct_locations` merges coincident points (the locations ``u_l`` of theory section 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .game import KernelGAN

__all__ = ["FixedPointKind", "fixed_point_kind", "distinct_locations", "MERGE_TOL", "ASSIGN_RADIUS",
           "FIT_TOL", "KINDS"]

#: Generated points closer than ``MERGE_TOL * sigma`` share one location ``u_l``.
#: Newton places coincident points to ~1e-12 sigma of each other.
MERGE_TOL = 1e-8
#: A generated point belongs to the nearest true point within ``ASSIGN_RADIUS`` length
#: scales. One length scale is where a Gaussian section ``K(., x_i)`` stops being concave
#: (``hess_u K = K (r r^T / sigma^2 - I) / sigma^2`` is negative definite exactly for
#: ``|r| < sigma``): inside it the true point's own pull holds the point, beyond it the pull
#: fades. The straddling collapse of theory section 10 sits ~0.7 sigma from its true point.
ASSIGN_RADIUS = 1.0
#: A perfect fit has every generated point within ``FIT_TOL`` length scales of its true
#: point and, per true point, generated mass equal to the true mass to ``FIT_TOL`` of
#: ``sum p`` (Newton places points to ~1e-12 length scales).
FIT_TOL = 1e-6
#: The kinds :func:`fixed_point_kind` reports, in the order in which they are tested.
KINDS = ("collapse", "spurious", "partial fit", "perfect fit", "fit")



def distinct_locations(y: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge coincident points.

    Returns the locations ``(L, d)`` and the index ``(n,)`` of each point's location.
    """
    locs: list[np.ndarray] = []
    index = np.empty(y.shape[0], dtype=int)
    for j, yj in enumerate(y):
        for l, u in enumerate(locs):
            if np.linalg.norm(yj - u) <= MERGE_TOL * scale:
                index[j] = l
                break
        else:
            index[j] = len(locs)
            locs.append(yj)
    return np.array(locs), index



@dataclass(frozen=True, eq=False)
class FixedPointKind:
    """What a fixed point is: which true point each generated point fits, and its stability.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`: ``"collapse"`` (several generated points share a true point
        and some true point has no generated mass: mode collapse, theory section 10),
        ``"spurious"`` (some generated point is near no true point, e.g. halfway between
        two: theory section 3), ``"partial fit"`` (a true point has no generated mass, none
        is shared), ``"perfect fit"`` (``Y* = X`` with matching masses, so ``f* = 0``) or
        ``"fit"`` (every true point has generated mass nearby, with a mass mismatch or a
        spread).
    owner : (n,) int array
        The true point each generated point is assigned to (the nearest within
        :data:`ASSIGN_RADIUS` length scales; coincident true points count as one, the
        first of them), or ``-1``.
    empty : tuple of int
        True points with no generated point assigned (no generated mass).
    shared : tuple of (int, tuple of int)
        ``(i, (j, ...))`` for every true point ``i`` that two or more generated points share.
    unassigned : tuple of int
        Generated points near no true point.
    stable : bool or None
        ``spectral_radius < 1`` (None when no spectral radius was given).
    """

    kind: str
    owner: np.ndarray
    empty: tuple
    shared: tuple
    unassigned: tuple
    stable: bool | None = None

    @property
    def local_minimum(self) -> bool:
        """A stable fixed point: GDA started close enough stays there (theory section 10)."""
        return bool(self.stable)

    @property
    def description(self) -> str:
        """One sentence, e.g. ``collapse fixed point: 2 generated points (0, 1) share true
        point 1; true point 0 has no generated mass; stable: a local minimum``."""
        parts = []
        for i, js in self.shared:
            parts.append(f"{len(js)} generated points ({', '.join(map(str, js))}) share true point {i}")
        if self.empty:
            which = ", ".join(map(str, self.empty))
            parts.append(f"true point{'s' if len(self.empty) > 1 else ''} {which} "
                         f"{'have' if len(self.empty) > 1 else 'has'} no generated mass")
        if self.unassigned:
            which = ", ".join(map(str, self.unassigned))
            parts.append(f"generated point{'s' if len(self.unassigned) > 1 else ''} {which} "
                         f"{'are' if len(self.unassigned) > 1 else 'is'} near no true point")
        if self.stable is not None:
            if self.kind == "perfect fit":
                parts.append("stable: the global minimum" if self.stable
                             else "not stable (spectral radius >= 1)")
            else:
                parts.append("stable: a local minimum" if self.stable
                             else "not stable (spectral radius >= 1): not a local minimum")
        return f"{self.kind} fixed point" + (": " + "; ".join(parts) if parts else "")


def fixed_point_kind(gan: KernelGAN, y, q, *, spectral_radius: float | None = None) -> FixedPointKind:
    """Name a fixed point ``(Y*, q)`` for what it is (theory sections 3 and 10).

    Each generated point is assigned to the nearest true point within
    :data:`ASSIGN_RADIUS` times the kernel's ``length_scale``; a true point with no
    generated point assigned has no generated mass. Mode collapse (theory section 10)
    is a fixed point where several generated points share one true point and another
    true point has no generated mass; when it is stable (``spectral_radius < 1``) it is
    a local minimum of GDA.

    Parameters
    ----------
    gan : KernelGAN
    y : (n, d) array
        The fixed point ``Y*`` (e.g. ``Equilibrium.y``).
    q : (n,) array or scalar
        Generated weights.
    spectral_radius : float, optional
        From :func:`linearize`; sets ``stable``.

    Returns
    -------
    FixedPointKind

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[-1.0], [1.0]], 0.5, kg.Gaussian(sigma=0.4), lam=1.0)
    >>> k = fixed_point_kind(gan, [[0.73], [1.27]], 0.5, spectral_radius=0.99)
    >>> k.kind, k.empty, k.shared, k.local_minimum
    ('collapse', (0,), ((1, (0, 1)),), True)
    >>> fixed_point_kind(gan, [[-1.0], [1.0]], 0.5).kind
    'perfect fit'
    """
    if not isinstance(gan, KernelGAN):
        raise ValueError(f"gan must be a KernelGAN, got {type(gan).__name__}")
    y, q = gan.check_generated(y, q)
    if spectral_radius is not None:
        spectral_radius = V.scalar(spectral_radius, "spectral_radius", nonnegative=True)
    scale = gan.kernel.length_scale
    x, p = gan.x_true, gan.p_true
    sites, site_of = distinct_locations(x, scale)  # coincident true points are one site
    first = np.array([int(np.flatnonzero(site_of == s)[0]) for s in range(sites.shape[0])])
    diff = y[:, None, :] - sites[None, :, :]
    dist = np.sqrt((diff * diff).sum(-1)) / scale
    nearest = dist.argmin(axis=1)
    near = dist[np.arange(y.shape[0]), nearest] <= ASSIGN_RADIUS
    site = np.where(near, nearest, -1)
    owner = np.where(near, first[nearest], -1)
    members = [np.flatnonzero(site == s) for s in range(sites.shape[0])]
    empty = tuple(int(i) for s, js in enumerate(members) if js.size == 0
                  for i in np.flatnonzero(site_of == s))
    shared = tuple((int(first[s]), tuple(int(j) for j in js)) for s, js in enumerate(members) if js.size > 1)
    unassigned = tuple(int(j) for j in np.flatnonzero(~near))
    if shared and empty:
        kind = "collapse"
    elif unassigned:
        kind = "spurious"
    elif empty:
        kind = "partial fit"
    else:
        on_site = bool(np.all(dist[np.arange(y.shape[0]), nearest] <= FIT_TOL))
        mass = np.array([q[js].sum() - p[site_of == s].sum() for s, js in enumerate(members)])
        kind = "perfect fit" if on_site and np.abs(mass).max() <= FIT_TOL * p.sum() else "fit"
    return FixedPointKind(kind=kind, owner=owner, empty=empty, shared=shared, unassigned=unassigned,
                          stable=None if spectral_radius is None else bool(spectral_radius < 1))
