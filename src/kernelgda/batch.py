"""Batched exact dynamics: many kernel GANs advanced together (theory sections 2 and 8).

:func:`simulate_batch` runs ``B`` independent games (cells of a parameter grid)
with one array operation per step over the whole batch, instead of one
:func:`~kernelgda.simulate` call per cell, for every update rule of theory
section 8. Cells are grouped by rule (and by ``d_steps``); a group advances in
lock step through the rule's one nonlinear step (:meth:`kernelgda.rules.Rule.step`,
the same code a single run executes) on the batched discriminators of
:mod:`kernelgda.discriminator.batched`, with the same truncation tracker
(``history_tol``, certified bound ``G D_k`` on the gradient error). A batch
therefore gives the same trajectories as separate runs up to the order of
floating-point sums (the tests check 1e-12 relative). Cells whose truncated
history is short cost ``O(T)``; the batch evaluates the history window
``[min_b start_b, k)``, so cells with similar ``eta_d lam`` should be batched
together (``kernelgda.sweep`` does).

A cell that leaves the ball of radius ``divergence_bound`` stops (status
``Status.DIVERGED``, later rows ``nan``) and no longer costs anything once the
batch is compacted; a completed cell with a generated point out of reach of
every true point is ``Status.ESCAPED`` (:func:`kernelgda.dynamics.escaped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _validate as V
from .discriminator.batched import BatchedDiscriminators, Profiles
from .discriminator.truncation import history_tolerance
from .dynamics import DIVERGENCE_FACTOR, Trajectory, escaped, measure_recorded, recorded_steps
from .game import GDA, KernelGAN
from .generators import Generator
from .measure import default_noise_floor
from .resources import check_trajectory
from .rules import RULES, StepConstants, get_rule, num_delays
from .status import Status

__all__ = ["simulate_batch", "BatchTrajectory", "BatchMeasurement", "BATCH_MODES"]

#: Update rules advanced by :func:`simulate_batch`: all of them (theory section 8).
BATCH_MODES = RULES
#: Compact the batch (drop diverged cells) once no more than this fraction of it is alive.
_COMPACT_FRACTION = 0.75


@dataclass(frozen=True)
class BatchMeasurement:
    """Dominant eigenvalues fitted to each run of a batch (see :mod:`kernelgda.measure`).

    Attributes
    ----------
    dominant : (B,) complex array
        Fitted eigenvalue of largest modulus (``Im >= 0``), ``nan`` where the
        linear, above-noise window was too short.
    rate : (B,) float array
        ``|dominant|``.
    window : (B, 2) int array
        First and one-past-last step of each fitted stretch.
    """

    dominant: np.ndarray
    rate: np.ndarray
    window: np.ndarray


@dataclass(frozen=True, eq=False)
class BatchTrajectory:
    """Result of :func:`simulate_batch`.

    Attributes
    ----------
    y : (B, R, n, d) array
        Generated points of every cell at the recorded steps (every step, ``R = T + 1``,
        by default; see ``record_every``); rows after a diverged cell's last finite
        configuration are ``nan``.
    num_taken : (B,) int array
        Steps each cell actually took (``T`` unless it diverged).
    status : (B,) object array of Status
        ``Status.COMPLETED``, ``Status.DIVERGED`` or ``Status.ESCAPED`` per cell (as
        :attr:`kernelgda.Trajectory.status`); compare with ``== Status.DIVERGED``.
    messages : tuple of str
        The message :func:`~kernelgda.simulate` would give for each cell.
    q : (B, n) array
    sigma : (B,) array
        Each cell's kernel length scale.
    truncation_bound : (B,) array
        Largest certified bound on the discriminator-gradient error caused by
        history truncation over each run (0 for the full history).
    num_slices : (B,) int array
        History slices each cell held at its last step.
    delays : (B,) int array
        Delays of each cell's measurement (:func:`kernelgda.rules.num_delays` of its rule).
    record_every : int
        Stride of the recorded steps (:func:`kernelgda.dynamics.recorded_steps` of each
        cell's ``num_taken``).
    """

    y: np.ndarray
    num_taken: np.ndarray
    status: np.ndarray
    messages: tuple
    q: np.ndarray
    sigma: np.ndarray
    truncation_bound: np.ndarray
    num_slices: np.ndarray
    delays: np.ndarray
    record_every: int = 1

    def __len__(self) -> int:
        return self.y.shape[0]

    def trajectory(self, i: int) -> Trajectory:
        """Cell ``i`` as the :class:`~kernelgda.Trajectory` that ``kg.simulate`` returns."""
        i = V.integer(i, "i", minimum=-len(self))
        if i >= len(self):
            raise ValueError(f"i must be < {len(self)}, got {i}")
        rows = len(recorded_steps(int(self.num_taken[i]), self.record_every))
        return Trajectory(y=self.y[i, :rows].copy(), status=Status(self.status[i]),
                          message=self.messages[i], q=self.q[i].copy(), sigma=float(self.sigma[i]),
                          truncation_bound=float(self.truncation_bound[i]),
                          num_slices=int(self.num_slices[i]), delays=int(self.delays[i]),
                          record_every=self.record_every, num_taken=int(self.num_taken[i]))

    def measure(self, y_star, *, linear_limit=None, noise_floor=None) -> BatchMeasurement:
        """Fit the dominant eigenvalue of every run (theory section 4, "measure").

        Parameters
        ----------
        y_star : (n, d) or (B, n, d) array
            Fixed point of each cell.
        linear_limit, noise_floor : float or (B,) array, optional
            Window bounds on ``|Y^k - Y*|``; defaults ``1e-3 sigma`` and
            ``1e5 eps max(1, |Y*|)`` per cell, as in :meth:`Trajectory.measure`.

        Returns
        -------
        BatchMeasurement
        """
        num, _, n, d = self.y.shape
        y_star = _per_cell(y_star, "y_star", num, (n, d))
        lim = 1e-3 * self.sigma if linear_limit is None else np.broadcast_to(
            np.asarray(linear_limit, dtype=float), (num,))
        floors = (np.array([default_noise_floor(ys) for ys in y_star]) if noise_floor is None
                  else np.broadcast_to(np.asarray(noise_floor, dtype=float), (num,)))
        dominant = np.full(num, complex(np.nan, np.nan))
        window = np.zeros((num, 2), dtype=int)
        for i in range(num):
            taken = int(self.num_taken[i])
            rows = len(recorded_steps(taken, self.record_every))
            meas = measure_recorded(self.y[i, :rows], y_star[i], linear_limit=float(lim[i]),
                                    noise_floor=float(floors[i]), delays=int(self.delays[i]),
                                    record_every=self.record_every, num_taken=taken)
            dominant[i] = meas.dominant
            window[i] = meas.window
        return BatchMeasurement(dominant=dominant, rate=np.abs(dominant), window=window)


# -- the batched run ---------------------------------------------------------------------------

def _run(prof, x, p, q, y0, y_star, q_star, has_f, lam, eta_d, eta_g, beta, mode, d_steps,
         num_steps, history_tol, radius, record_every, max_memory=None):
    """Advance one group of cells with the same update rule; every array has a leading ``B``.

    ``has_f`` marks the cells that start at ``f*`` of the fixed point ``(y_star, q_star)`` (with
    ``lam > 0``; for ``lam = 0`` a fixed point is a perfect match and ``f* = 0``).
    """
    num, n, d = y0.shape
    rule = get_rule(mode)
    stride = record_every
    out = np.full((num, len(recorded_steps(num_steps, stride)), n, d), np.nan)
    out[:, 0] = y0
    taken = np.full(num, num_steps)
    diverged = np.zeros(num, dtype=bool)
    messages = [f"completed {num_steps} steps"] * num
    bound_out = np.zeros(num)
    slices_out = np.zeros(num, dtype=int)

    disc = BatchedDiscriminators(prof, x, p, n, rule.slices_per_step(d_steps) * num_steps + 3,
                           rule.state_copies, history_tol, max_memory=max_memory)
    disc.start_at(has_f, y_star, q_star, lam)
    cell = disc.cell
    cell.update(y=y0.copy(), cells=np.arange(num), radius=radius, center=x.mean(axis=1),
                bound=np.zeros(num), q=q, lam=lam, eta_d=eta_d, eta_g=eta_g, beta=beta)

    def constants():
        return rule.constants(StepConstants.make(cell["lam"], cell["eta_d"], cell["eta_g"],
                                                 cell["beta"], cell["q"], d_steps))
    consts = constants()
    state = rule.init(consts, disc, y0)

    for k in range(num_steps):
        cell = disc.cell
        y, alive = cell["y"], cell["alive"]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            y_new, state = rule.step(consts, state, disc, y)
            cell["bound"] = np.maximum(cell["bound"], disc.bound)
            finite = np.isfinite(y_new).all(axis=(1, 2))
            far = np.abs(y_new - cell["center"][:, None, :]).max(axis=(1, 2)) > cell["radius"]
        bad = alive & ~(finite & ~far)
        good = alive & ~bad
        y[good] = y_new[good]
        if (k + 1) % stride == 0:
            out[cell["cells"][good], (k + 1) // stride] = y_new[good]
        if not bad.any():
            continue
        for row in np.nonzero(bad)[0]:
            i = cell["cells"][row]
            diverged[i] = True
            taken[i] = k
            if k % stride:  # its last finite configuration, off the stride
                out[i, k // stride + 1] = y[row]
            messages[i] = (
                f"diverged at step {k + 1}: a generated point left the ball of radius "
                f"{cell['radius'][row]:.3g} around the true points' mean" if finite[row]
                else f"diverged at step {k + 1}: non-finite values")
            bound_out[i] = cell["bound"][row]
            slices_out[i] = disc.stop - cell["start"][row]
        alive &= ~bad
        if not alive.any():
            break
        if alive.sum() <= _COMPACT_FRACTION * len(alive):
            keep = np.nonzero(alive)[0]
            disc.take(keep)
            cell = disc.cell
            consts = constants()
            state = None if state is None else state[keep]
    cell = disc.cell
    live = cell["cells"][cell["alive"]]
    if num_steps % stride:
        out[live, -1] = cell["y"][cell["alive"]]
    bound_out[live] = cell["bound"][cell["alive"]]
    slices_out[live] = disc.stop - cell["start"][cell["alive"]]
    status = np.array([Status.DIVERGED if bad else Status.COMPLETED for bad in diverged], dtype=object)
    return out, taken, status, messages, bound_out, slices_out


def _per_cell(value, name, num, shape):
    arr = np.asarray(value, dtype=float)
    if arr.shape == shape:
        arr = np.broadcast_to(arr, (num,) + shape)
    if arr.shape != (num,) + shape:
        raise ValueError(f"{name} must have shape {shape} or {(num,) + shape}, got {arr.shape}")
    return arr


def _as_list(value, cls, name):
    if isinstance(value, cls):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = list(value)
        if not items or not all(isinstance(v, cls) for v in items):
            raise ValueError(f"{name} must be a {cls.__name__} or a non-empty sequence of them")
        return items
    raise ValueError(f"{name} must be a {cls.__name__} or a sequence of them, got {type(value).__name__}")


def _broadcast(items, num, name):
    if len(items) == 1:
        return items * num
    if len(items) != num:
        raise ValueError(f"{name} has {len(items)} entries but the batch has {num} cells")
    return items


def simulate_batch(gans, gdas, y0, q, num_steps: int = 1000, *, start=None,
                   history_tol: float | None = None, divergence_bound=None,
                   record_every: int = 1, max_memory=None) -> BatchTrajectory:
    """Run the exact GDA dynamics of many kernel GANs together, one array operation per step.

    Cell ``b`` is the run ``kg.simulate(gans[b], gdas[b], y0[b], q[b], num_steps,
    start=start[b], history_tol=history_tol)``; all cells share ``m``, ``n``, ``d`` and
    the kind of kernel (gaussian and rational quadratic kernels may differ in their
    parameters from cell to cell).

    Parameters
    ----------
    gans : KernelGAN or sequence of B KernelGAN
    gdas : GDA or sequence of B GDA
        Any update rule (theory section 8); cells of different rules, ``d_steps`` and
        ``beta`` may be mixed (they are advanced in groups of one rule and ``d_steps``).
    y0 : (n, d) or (B, n, d) array
        Initial generated points (free points only: a parametric generator's step is a
        different vector-Jacobian product per cell, so batching it would save little; run
        :func:`kernelgda.simulate` per generator).
    q : scalar, (n,) or (B, n) array
        Generated weights ``q_j > 0``.
    num_steps : int
        Number of GDA steps ``T``.
    start : None, Equilibrium or sequence of B Equilibrium
        ``None`` starts every discriminator at ``f0 = 0``; an equilibrium starts the
        cell at that fixed point's ``f*`` (as :func:`~kernelgda.simulate`).
    history_tol : float in [0, 1), optional
        Relative history truncation tolerance (:mod:`kernelgda.discriminator`); the
        certified gradient-error bound is reported per cell. Default lossless (``2^-53``,
        as :func:`~kernelgda.simulate`); ``0`` keeps the whole history.
    divergence_bound : float or (B,) array, optional
        Radius around the mean of the true points beyond which a cell stops as
        ``Status.DIVERGED``; default as in :func:`~kernelgda.simulate`.
    record_every : int >= 1
        Keep every ``record_every``-th configuration and each cell's last one, as
        :func:`~kernelgda.simulate` does.
    max_memory : int or str, optional
        Limit on the bytes of the stored trajectories of all cells, and separately of the
        discriminators' histories, checked before anything is allocated
        (:func:`kernelgda.resources.check_trajectory`, ``check_history``); ``None`` is the
        default limit.

    Returns
    -------
    BatchTrajectory

    Raises
    ------
    ValueError
        When the stored trajectories would exceed ``max_memory`` (the message names the
        ``record_every`` that fits).

    Notes
    -----
    Cost per step ``O(B (m + W n) n d)`` with ``W`` the longest kept history in the
    batch (theory section 2), times the gradient evaluations per step of the rule
    (two for extragradient); see the module docstring.

    Examples
    --------
    >>> import kernelgda as kg
    >>> gans = [kg.KernelGAN([[0.0]], 1.0, kg.Gaussian(sigma=s), lam=0.5) for s in (0.5, 1.0)]
    >>> runs = kg.simulate_batch(gans, kg.GDA(0.1, 0.1), [[0.1]], 1.0, num_steps=200)
    >>> [str(s) for s in runs.status], runs.y.shape
    (['completed', 'completed'], (2, 201, 1, 1))
    """
    gans = _as_list(gans, KernelGAN, "gans")
    gdas = _as_list(gdas, GDA, "gdas")
    cells = y0 if isinstance(y0, list | tuple) else [y0]
    if any(isinstance(v, Generator) for v in cells):
        raise ValueError("simulate_batch takes free points only (y0 an array); "
                         "run kg.simulate for a generator")
    try:
        y0_arr = np.asarray(y0, dtype=float)
        q_arr = np.asarray(q, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("y0 and q must be arrays of numbers") from None
    sizes = {"gans": len(gans), "gdas": len(gdas), "y0": y0_arr.shape[0] if y0_arr.ndim == 3 else 1,
             "q": q_arr.shape[0] if q_arr.ndim == 2 else 1}
    num = max(sizes.values())
    if any(v not in (1, num) for v in sizes.values()):
        raise ValueError("the inputs disagree on the number of cells: "
                         + ", ".join(f"{k} has {v}" for k, v in sizes.items()))
    gans = _broadcast(gans, num, "gans")
    gdas = _broadcast(gdas, num, "gdas")
    first = gans[0]
    if any(g.m != first.m or g.d != first.d for g in gans):
        raise ValueError("gans must all have the same number m and dimension d of true points")
    y_cells = y0_arr if y0_arr.ndim == 3 and len(y0_arr) == num else \
        [y0_arr[0] if y0_arr.ndim == 3 else y0_arr] * num
    q_cells = q_arr if q_arr.ndim == 2 and len(q_arr) == num else \
        [q_arr[0] if q_arr.ndim == 2 else q_arr] * num
    ys, qs = zip(*(g.check_generated(yc, qc) for g, yc, qc in zip(gans, y_cells, q_cells, strict=True)),
                 strict=True)
    if len({y.shape for y in ys}) != 1:
        raise ValueError("every cell must have the same number n of generated points")
    y = np.stack(ys)
    q_all = np.stack(qs)
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    record_every = V.integer(record_every, "record_every", minimum=1)
    check_trajectory(num_steps, num * y.shape[1], y.shape[2], record_every,
                     what=f"trajectories of {num} cells", limit=max_memory)
    history_tol = history_tolerance(history_tol)

    y_star = np.zeros_like(y)
    q_star = q_all.copy()
    has_f = np.zeros(num, dtype=bool)
    if start is not None:
        starts = _broadcast([start] if hasattr(start, "y") else list(start), num, "start")
        for b, (gan, eq) in enumerate(zip(gans, starts, strict=True)):
            ys_b, qs_b = getattr(eq, "y", None), getattr(eq, "q", None)
            if ys_b is None or qs_b is None:
                raise ValueError("start must be None or Equilibrium objects from find_equilibrium")
            ys_b, qs_b = gan.check_generated(ys_b, qs_b)
            if ys_b.shape != y.shape[1:]:
                raise ValueError(f"start[{b}] has {ys_b.shape[0]} generated points but y0 has {y.shape[1]}")
            y_star[b] = ys_b
            q_star[b] = qs_b  # kg.simulate builds f* from the equilibrium's own weights
            has_f[b] = gan.lam > 0

    x = np.stack([g.x_true for g in gans])
    p = np.stack([g.p_true for g in gans])
    lam = np.array([g.lam for g in gans])
    eta_d = np.array([g.eta_d for g in gdas])
    eta_g = np.array([g.eta_g for g in gdas])
    beta = np.array([g.beta for g in gdas])
    prof = Profiles([g.kernel for g in gans])
    center = x.mean(axis=1)
    if divergence_bound is None:
        extent = np.maximum(np.abs(x - center[:, None]).max(axis=(1, 2)),
                            np.abs(y - center[:, None]).max(axis=(1, 2)))
        radius = DIVERGENCE_FACTOR * np.maximum(prof.sigma, extent)
    else:
        radius = np.broadcast_to(np.asarray(divergence_bound, dtype=float), (num,)).copy()
        if not np.all(np.isfinite(radius)) or np.any(radius <= 0):
            raise ValueError("divergence_bound must be finite and > 0")

    out = np.empty((num, len(recorded_steps(num_steps, record_every))) + y.shape[1:])
    taken = np.empty(num, dtype=int)
    status = np.empty(num, dtype=object)
    messages = [""] * num
    bound = np.empty(num)
    slices = np.empty(num, dtype=int)
    rules = sorted({(g.mode, g.d_steps) for g in gdas})
    for mode, d_steps in rules:  # the cells of one rule and d_steps advance in lock step
        idx = np.array([b for b, g in enumerate(gdas) if (g.mode, g.d_steps) == (mode, d_steps)])
        res = _run(prof.take(idx), x[idx], p[idx], q_all[idx], y[idx], y_star[idx], q_star[idx],
                   has_f[idx], lam[idx], eta_d[idx], eta_g[idx], beta[idx], mode, d_steps,
                   num_steps, history_tol, radius[idx], record_every, max_memory)
        out[idx], taken[idx], status[idx], msg, bound[idx], slices[idx] = res
        for j, i in enumerate(idx):
            messages[i] = msg[j]
    # Escape needs a generated point at least 4 sigma from every true point (every radial kernel
    # of kernelgda.kernels is above eps K(0) closer in: exp(-8) for the Gaussian), so only those
    # cells are checked one by one; with a kernel that is not radial every completed cell is.
    last = out[:, -1]
    gap = ((last[:, :, None, :] - x[:, None, :, :]) ** 2).sum(axis=-1).min(axis=2).max(axis=1)
    candidates = status == Status.COMPLETED
    if not prof.generic:
        candidates &= gap >= 16.0 * prof.sigma**2
    for b in np.nonzero(candidates)[0]:
        if escaped(gans[b], out[b, -1]):
            status[b] = Status.ESCAPED
            messages[b] = f"escaped: completed {num_steps} steps, but {Status.ESCAPED.description}"
    return BatchTrajectory(y=out, num_taken=taken, status=status, messages=tuple(messages),
                           q=q_all, sigma=prof.sigma.copy(), truncation_bound=bound,
                           num_slices=slices, delays=np.array([num_delays(g.mode) for g in gdas]),
                           record_every=record_every)
