"""Basins of the catalogued fixed points: exact runs, each end state assigned (theory sections 2, 10).

:func:`basins` (called as :meth:`Catalogue.basins <kernelgda.catalogue.Catalogue.basins>`) runs
the exact GDA dynamics from many starts in one batch (:func:`kernelgda.simulate_batch`, every
update rule) and names what each run ended in, in this order:

1. ``diverged``: the run left the divergence ball (``Status.DIVERGED``);
2. ``escape``: a generated point ends more than :data:`FAR` length scales from every true point
   (or the run reports ``Status.ESCAPED``) and moved more than :data:`ESCAPE_MOVE` length scales
   over the last :data:`TAIL` of the run;
3. a catalogue entry, when the end state is within :data:`END_TOL` length scales of it;
4. ``moving``: no point is off the data and a point moved more than :data:`SETTLE_MOVE` length
   scales over the last :data:`TAIL` of the run: no verdict yet;
5. otherwise Newton from the end state decides: the entry it converges to (a fixed point the
   catalogue lacks is added to it, source ``run``; a spurious fixed point off the data counts
   here, not as a stall), or, where Newton fails or stalls, ``stall`` when a point is off the
   data (its gradient has vanished: theory section 10, a stall is not a fixed point) and
   ``moving`` otherwise (a slow drift).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as V
from ..batch import simulate_batch
from ..dynamics import recorded_steps
from ..game import GDA
from ..status import Status, flag_attrs
from .starts import distance, weight_groups

__all__ = ["Basins", "basins", "OUTCOMES", "FAR", "ESCAPE_MOVE", "SETTLE_MOVE", "END_TOL", "TAIL",
           "HISTORY_TOL"]

#: Outcomes that are not a catalogue entry, after the entries in :attr:`Basins.labels`.
OUTCOMES = ("diverged", "escape", "stall", "moving")
#: A point further than ``FAR`` length scales from every true point is off the data: a Gaussian
#: section has fallen to exp(-4.5) = 1 % there and the straddling collapse of theory section 10
#: sits within 0.7 length scales of its true point.
FAR = 3.0
#: An off-data point that moved more than this many length scales over the tail is escaping.
ESCAPE_MOVE = 1.0
#: A run whose points moved more than this many length scales over the tail is still moving.
SETTLE_MOVE = 0.1
#: An end state within this many length scales of an entry belongs to it without a Newton solve.
END_TOL = 1e-2
#: The last fraction of a run over which motion is measured.
TAIL = 0.1
#: History truncation of the runs (certified bound on the gradient error relative to the largest
#: kernel gradient, :mod:`kernelgda.discriminator`): far below every tolerance above.
HISTORY_TOL = 1e-12


@dataclass(frozen=True, eq=False)
class Basins:
    """Result of :func:`basins`.

    Attributes
    ----------
    outcome : (S,) int array
        Per start, the index into :attr:`labels`: an entry of :attr:`catalogue` (``< len(catalogue)``)
        or one of :data:`OUTCOMES` after them.
    labels : tuple of str
        ``"0: <entry label>"``, ... for the entries, then :data:`OUTCOMES`.
    shares : dict
        ``label -> share of the starts`` (all labels, zeros included).
    catalogue : Catalogue
        The catalogue judged with the runs' ``gda``, extended by fixed points first reached from
        the end of a run.
    dataset : xarray.Dataset
        Dimensions ``start``, ``point``, ``dim``, ``outcome``: ``y0``, ``y_end``, ``assigned``
        (per start, the index into the ``outcome`` coordinate, which holds :attr:`labels`),
        ``run_status`` (:class:`~kernelgda.status.Status` codes), ``distance`` (end state to its
        entry, length scales; ``nan`` otherwise),
        ``count``, ``share``, ``spectral_radius`` and ``stable`` per outcome (``nan`` / ``False``
        for the outcomes that are not entries).
    status : Status
        ``COMPLETED``.
    message : str

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=1.0), lam=0.5)
    >>> gda = kg.GDA(0.1, 0.1)
    >>> b = kg.fixed_points(gan, [1.0], num_random=0).basins(gda, [[[0.3]], [[9.0]]], 500)
    >>> b.labels, b.outcome.tolist(), b.shares["0: perfect fit"]
    (('0: perfect fit', 'diverged', 'escape', 'stall', 'moving'), [0, 3], 0.5)
    """

    outcome: np.ndarray
    labels: tuple
    shares: dict
    catalogue: object
    dataset: object
    status: Status
    message: str

    @property
    def num_entries(self) -> int:
        return len(self.catalogue)

    def entry_share(self, i: int) -> float:
        """Share of the starts that ended at entry ``i``."""
        return self.shares[self.labels[V.integer(i, "i", minimum=0)]]


def _starts(catalogue, starts):
    gan, q = catalogue.gan, catalogue.q
    arr = V.array(starts, "starts")
    arr = arr[None] if arr.ndim == 2 else arr
    if arr.ndim != 3 or arr.shape[1:] != (q.size, gan.d) or arr.shape[0] == 0:
        raise ValueError(f"starts must have shape ({q.size}, {gan.d}) or (S, {q.size}, {gan.d}) with "
                         f"S >= 1, got {np.shape(starts)}")
    return arr


def _tail_frame(num_steps: int, stride: int) -> int:
    """Recorded frame at the start of the tail: the last recorded step ``<= T - stride``."""
    steps = recorded_steps(num_steps, stride)
    return int(np.searchsorted(steps, num_steps - stride, side="right") - 1)


def basins(catalogue, gda: GDA, starts, num_steps: int, *, start=None,
           history_tol: float = HISTORY_TOL, max_memory=None) -> Basins:
    """Run the exact dynamics from every start and assign each end state (module docstring).

    Parameters
    ----------
    catalogue : Catalogue
        From :func:`kernelgda.fixed_points`.
    gda : GDA
        The runs' learning rates and rule; the entries are judged with it.
    starts : (n, d) or (S, n, d) array
        Initial generated points.
    num_steps : int >= 1
    start : None, Equilibrium or sequence of S Equilibrium
        ``None`` starts every discriminator at ``f0 = 0``; an equilibrium (e.g. an entry's
        ``equilibrium``) starts at its ``f*`` (:func:`kernelgda.simulate_batch`).
    history_tol : float in (0, 1)
        Truncation of the discriminator history (:data:`HISTORY_TOL`).
    max_memory : int or str, optional
        Limit for the runs' trajectories and histories, checked before running.

    Returns
    -------
    Basins

    Notes
    -----
    Cost: one batch of ``S`` runs (:func:`kernelgda.simulate_batch`) plus a Newton solve per run
    that settles more than :data:`END_TOL` from every entry; memory ``O(S n d / TAIL)`` for the
    recorded frames and the batch's discriminator histories.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gan = kg.KernelGAN([[-1.0], [1.0]], [0.3, 0.7], kg.Gaussian(sigma=0.3), lam=3.0)
    >>> gda = kg.GDA(0.1, 0.01)
    >>> cat = kg.fixed_points(gan, [0.5, 0.5], gda=gda, num_random=0)
    >>> b = cat.basins(gda, [[[0.9], [1.1]], [[-1.1], [0.9]]], 1500)
    >>> [b.labels[k] for k in b.outcome]
    ['1: collapse on 1 (2 points, spread)', '0: fit']
    """
    if getattr(catalogue, "generator", None) is not None:
        raise ValueError("basins runs free points in one batch; for a generator's catalogue run "
                         "kg.simulate from each start (simulate_batch takes free points only)")
    import xarray as xr

    if not isinstance(gda, GDA):
        raise ValueError(f"gda must be a GDA, got {type(gda).__name__}")
    y0 = _starts(catalogue, starts)
    num_steps = V.integer(num_steps, "num_steps", minimum=1)
    history_tol = V.scalar(history_tol, "history_tol", positive=True)
    gan, q = catalogue.gan, catalogue.q
    scale = gan.kernel.length_scale
    stride = max(1, int(round(TAIL * num_steps)))
    runs = simulate_batch(gan, gda, y0, q, num_steps, start=start, history_tol=history_tol,
                          record_every=stride, max_memory=max_memory)
    cat = catalogue.with_gda(gda)
    num = y0.shape[0]
    end = runs.y[:, -1]
    before = runs.y[:, _tail_frame(num_steps, stride)]
    with np.errstate(invalid="ignore"):  # nan rows of diverged runs
        move = np.sqrt(((end - before) ** 2).sum(-1)) / scale                       # (S, n)
        gap = np.sqrt(((end[:, :, None, :] - gan.x_true[None, None]) ** 2).sum(-1)).min(-1) / scale
    code = np.full(num, -1)       # entry index, or -1 - OUTCOMES index
    dist = np.full(num, np.nan)
    groups = weight_groups(q)
    pending = []
    stalled = np.zeros(num, dtype=bool)  # a point off the data that has not escaped
    for b in range(num):
        if runs.status[b] == Status.DIVERGED:
            code[b] = -1 - OUTCOMES.index("diverged")
            continue
        far = gap[b] > FAR
        if runs.status[b] == Status.ESCAPED:  # out of reach of every true point: off the data
            far |= gap[b] == gap[b].max()
        if far.any() and move[b, far].max() > ESCAPE_MOVE:
            code[b] = -1 - OUTCOMES.index("escape")
            continue
        near = [distance(end[b], e.y, groups) / scale for e in cat]
        if near and min(near) <= END_TOL:
            code[b] = int(np.argmin(near))
            dist[b] = min(near)
        elif not far.any() and move[b].max() > SETTLE_MOVE:
            code[b] = -1 - OUTCOMES.index("moving")
        else:
            stalled[b] = far.any()
            pending.append(b)
    if pending:  # settled away from every entry: where does Newton from the end state go?
        cat, found = cat.extended(end[pending])
        for b, i in zip(pending, found, strict=True):
            if i >= 0:
                code[b] = i
                dist[b] = distance(end[b], cat[i].y, groups) / scale
            else:
                code[b] = -1 - OUTCOMES.index("stall" if stalled[b] else "moving")
    num_entries = len(cat)
    outcome = np.where(code >= 0, code, num_entries - 1 - code)
    labels = tuple(f"{i}: {e.label}" for i, e in enumerate(cat)) + OUTCOMES
    count = np.bincount(outcome, minlength=len(labels))
    shares = {lab: float(c) / num for lab, c in zip(labels, count, strict=True)}
    radius = np.array([e.spectral_radius for e in cat] + [np.nan] * len(OUTCOMES))
    stable = np.array([bool(e.stable) for e in cat] + [False] * len(OUTCOMES))
    ds = xr.Dataset(
        {"y0": (("start", "point", "dim"), y0), "y_end": (("start", "point", "dim"), end),
         "assigned": ("start", outcome.astype(np.int16)),
         "run_status": ("start", np.array([Status(s).code for s in runs.status], dtype=np.int8),
                        flag_attrs()),
         "distance": ("start", dist), "count": ("outcome", count), "share": ("outcome", count / num),
         "spectral_radius": ("outcome", radius), "stable": ("outcome", stable)},
        coords={"outcome": list(labels), "start": np.arange(num)},
        attrs={"mode": gda.mode, "eta_d": gda.eta_d, "eta_g": gda.eta_g, "num_steps": num_steps,
               "history_tol": history_tol, "length_scale": scale,
               "discriminator_start": "f0 = 0" if start is None else "f* of the given fixed point"})
    top = sorted(((c, lab) for lab, c in zip(labels, count, strict=True) if c), reverse=True)
    message = f"{num} runs of {num_steps} steps: " + ", ".join(f"{lab} {c}" for c, lab in top)
    return Basins(outcome=outcome, labels=labels, shares=shares, catalogue=cat, dataset=ds,
                  status=Status.COMPLETED, message=message)
