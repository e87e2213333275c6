"""The one truncation tracker: dropped coefficient mass of a truncated history (theory section 2).

Used by the single-run expansions (:mod:`kernelgda.discriminator.expansion`, one cell) and
by the batched discriminators (:mod:`kernelgda.discriminator.batched`, ``B`` cells); every
array has a leading cell axis.

Rule. The oldest history slices of a cell are dropped while the total absolute coefficient
mass dropped so far, ``D_k`` (decayed like everything else), stays at most ``tol`` times
the total absolute coefficient mass of the whole expansion (true-point term, kept slices
and ``D_k``). Since every kernel section has gradient at most ``G = kernel.grad_bound``,
the gradient used by the truncated run differs from the exact one at every point by at
most ``G D_k``.

One function (``f``): the decay ``1 - eta_d lam`` multiplies ``D_k`` and the kept mass. Its
owner stores coefficients divided by a running decay product ``scale`` (so that a decay is
O(1)); the tracker keeps its masses in the same stored units, so a decay costs it nothing,
and the owner calls :meth:`TruncationTracker.rescale` when it renormalises (below
:data:`~kernelgda.discriminator.history.RESCALE_BELOW`).

Several functions mixed by a map ``T`` at every step (optimistic and momentum GDA, theory
section 8): the dropped coefficient vectors are tracked in the eigenbasis of ``T``
(``T = V diag(z) V^-1``): with ``a_i`` the summed ``|(V^-1 w)_i|`` of the dropped vectors,
every step multiplies ``a_i`` by ``|z_i|`` exactly, and ``D = sum_i |V_:i|_1 a_i``. (The
induced 1-norm of ``T`` is above 1 for most learning rates even when ``|z_i| < 1``, so it
would make the bound grow and stop truncation.) When ``V`` is ill-conditioned
(``cond > MIX_COND_MAX``) the mass is propagated with the 1-norm instead; when ``T``
changes, the bound is carried over to the new basis through ``|c_i| <= max_j |V^-1_ij| D``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _validate as V

__all__ = ["TruncationTracker", "MIX_COND_MAX", "LOSSLESS_TOL", "history_tolerance"]

#: The default relative truncation tolerance of ``kg.simulate`` and ``kg.simulate_batch``: float64
#: rounding, ``2^-53``. A slice is dropped only while the certified gradient error of everything
#: dropped, ``G D_k``, stays within ``2^-53`` of ``G`` times the total coefficient mass, a bound on
#: the gradient's size and on the rounding of its exact sum (``~eps`` of the sum of absolute terms);
#: so default runs give the full history's numbers to rounding and keep at most about
#: ``37 / (eta_d lam)`` slices (``log(2^-53) = -36.7``); with ``lam = 0`` nothing is dropped.
LOSSLESS_TOL = 2.0**-53


def history_tolerance(value, name: str = "history_tol"):
    """The truncation tolerance of a run asked for ``history_tol = value``.

    ``None`` (the default) is :data:`LOSSLESS_TOL`; ``0`` keeps the whole history (returns
    ``None``); any other value must lie in ``(0, 1)`` (``ValueError`` naming ``name``).

    Examples
    --------
    >>> history_tolerance(None) == 2.0**-53, history_tolerance(0), history_tolerance(1e-8)
    (True, None, 1e-08)
    """
    if value is None:
        return LOSSLESS_TOL
    value = V.scalar(value, name, nonnegative=True)
    if value >= 1:
        raise ValueError(f"{name} must be in [0, 1) (0 keeps the whole history), got {value}")
    return value or None

#: Above this condition number of the mixing map's eigenvectors the dropped mass is bounded
#: with the induced 1-norm instead of the eigenbasis (nearly defective map).
MIX_COND_MAX = 1e8


class TruncationTracker:
    """Dropped-mass bookkeeping of ``num_cells`` truncated histories of ``num_funcs`` functions.

    Parameters
    ----------
    tol : float or None
        Relative truncation tolerance in ``(0, 1)``; ``None`` never drops anything.
    num_cells, num_funcs : int

    Attributes
    ----------
    kept : (B,) array
        Absolute coefficient mass of the kept slices, in stored units (one function; kept up
        to date by :meth:`added`, :meth:`rescale` and :meth:`truncate`).
    """

    def __init__(self, tol, num_cells: int, num_funcs: int = 1):
        self.tol = tol
        self.num_funcs = num_funcs
        b = num_cells
        self.kept = np.zeros(b)
        self._dropped = np.zeros(b)  # one function: D_k in stored units
        if num_funcs > 1:  # eigenbasis of the mixing map, or the 1-norm fallback
            f = num_funcs
            self.tmap = np.full((b, f, f), np.nan)
            self.zabs = np.zeros((b, f))
            self.colnorm = np.zeros((b, f))
            self.vinv = np.zeros((b, f, f), dtype=complex)
            self.amp = np.zeros((b, f))
            self.fallback = np.ones(b, dtype=bool)
            self.mass = np.zeros(b)
            self.growth = np.ones(b)

    _CELL = ("kept", "_dropped", "tmap", "zabs", "colnorm", "vinv", "amp", "fallback", "mass", "growth")

    def take(self, keep) -> None:
        """Keep only the cells ``keep`` (indices or mask)."""
        for name in self._CELL:
            if hasattr(self, name):
                setattr(self, name, getattr(self, name)[keep])

    def dropped(self, scale=None) -> np.ndarray:
        """Bound ``D_k`` on the absolute coefficient mass of the dropped slices, per cell.

        One function: pass the owner's ``scale`` (stored units times ``|scale|``).
        """
        if self.num_funcs == 1:
            return self._dropped if scale is None else self._dropped * np.abs(scale)
        return self._combine(self.amp, self.mass)

    def _combine(self, amp, mass, rows=slice(None)):
        return np.where(self.fallback[rows], mass, (self.colnorm[rows] * amp).sum(axis=1))

    def added(self, mass) -> None:
        """A new slice of absolute coefficient mass ``mass (B,)`` (or a float for one cell), in
        stored units (one function)."""
        if isinstance(mass, float):
            self.kept[0] += mass
        else:
            self.kept += mass

    def absorb(self, w) -> None:
        """Count the coefficients ``w (F, n)`` of one cell as approximated (not kept exactly).

        For an owner that replaces part of its expansion by an approximation whose error per
        unit of coefficient mass is bounded (the fast Gauss transform,
        :mod:`kernelgda.discriminator.fgt`): :meth:`dropped` then bounds the absolute
        coefficient mass of everything absorbed, decayed or mixed like the rest (one
        function: ``w`` in stored units, as :meth:`added`).
        """
        if self.num_funcs == 1:
            self._dropped[0] += float(np.abs(w).sum())
            return
        self.amp[0] += np.abs(self.vinv[0] @ w).sum(axis=1)
        self.mass[0] += float(np.abs(w).sum())

    def rescale(self, rows, factor) -> None:
        """The owner multiplied the stored coefficients of the cells ``rows`` by ``factor``."""
        mag = np.abs(factor)
        self._dropped[rows] *= mag
        self.kept[rows] *= mag

    def mix(self, t) -> None:
        """The functions were mixed by ``t (B, F, F)``: propagate the dropped amplitudes."""
        self._set_maps(t)
        self.amp *= self.zabs
        self.mass *= self.growth

    def _set_maps(self, t) -> None:
        changed = ~np.all(t == self.tmap, axis=(1, 2))
        if not changed.any():
            return
        rows = np.nonzero(changed)[0]
        mass = self.dropped()[rows]
        z, vec = np.linalg.eig(t[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            bad = ~(np.linalg.cond(vec) <= MIX_COND_MAX)
        eye = np.eye(self.num_funcs)
        inv = np.linalg.inv(np.where(bad[:, None, None], eye, vec))
        self.fallback[rows] = bad
        self.mass[rows] = np.where(bad, mass, 0.0)
        self.growth[rows] = np.abs(t[rows]).sum(axis=1).max(axis=1)
        self.zabs[rows] = np.abs(z)
        self.colnorm[rows] = np.abs(vec).sum(axis=1)
        self.vinv[rows] = inv
        self.amp[rows] = np.where(bad[:, None], 0.0, np.abs(inv).max(axis=2) * mass[:, None])
        self.tmap[rows] = t[rows]

    def truncate(self, true_mass, live, slices_left, oldest, drop, oldest_mass=None) -> None:
        """Drop each cell's oldest slices while its dropped mass stays within the budget.

        Parameters
        ----------
        true_mass : (B,) array
            ``sum_i |c_i| sum p``, the true-point term's mass (one function: in stored units,
            divided by ``|scale|``).
        live : (B,) array or None
            Mass of the kept slices (``None``: :attr:`kept`).
        slices_left : callable ``rows -> (r,) ints``
            Slices each of the cells ``rows`` still holds.
        oldest : callable ``rows -> (r, F, n)``
            The coefficients of their oldest slices (one function: as stored).
        drop : callable ``rows -> None``
            Drop the oldest slice of the cells ``rows``.
        oldest_mass : callable ``() -> float``, optional
            One cell and one function: the oldest slice's absolute mass, if its owner keeps it
            (saves summing the coefficients again).
        """
        if self.tol is None:
            return
        live = self.kept if live is None else live
        if self.kept.shape[0] == 1:  # one run: the same rule in scalars (no per-slice array calls)
            budget = self.tol * (_first(true_mass) + _first(live) + self._dropped_one())
            # A certified dropped mass that has overflowed certifies nothing: drop nothing more.
            if math.isfinite(budget):
                self._truncate_one(budget, slices_left, oldest, drop, oldest_mass)
            return
        budget = self.tol * (true_mass + live + self.dropped())
        # (inf <= inf would drop the whole history)
        budget = np.where(np.isfinite(budget), budget, -1.0)
        rows = np.arange(budget.shape[0])
        while True:
            rows = rows[slices_left(rows) > 1]
            if rows.size == 0:
                return
            w = oldest(rows)
            if self.num_funcs == 1:
                cost = np.abs(w).sum(axis=(1, 2))
                after = self._dropped[rows] + cost
            else:
                amp = self.amp[rows] + np.abs(np.einsum("rij,rjn->rin", self.vinv[rows], w)).sum(axis=2)
                mass = self.mass[rows] + np.abs(w).sum(axis=(1, 2))
                after = self._combine(amp, mass, rows)
            ok = after <= budget[rows]
            if not ok.any():
                return
            rows = rows[ok]
            if self.num_funcs == 1:
                self._dropped[rows] = after[ok]
                self.kept[rows] -= cost[ok]
            else:
                self.amp[rows], self.mass[rows] = amp[ok], mass[ok]
            drop(rows)

    def _dropped_one(self) -> float:
        if self.num_funcs == 1:
            return float(self._dropped[0])
        return float(self.mass[0]) if self.fallback[0] else float(self.colnorm[0] @ self.amp[0])

    def _truncate_one(self, budget, slices_left, oldest, drop, oldest_mass) -> None:
        row = _ROW0
        if self.num_funcs == 1:
            dropped, kept = float(self._dropped[0]), float(self.kept[0])
            while slices_left(row)[0] > 1:
                cost = oldest_mass() if oldest_mass else float(np.abs(oldest(row)).sum())
                if not dropped + cost <= budget:
                    break
                dropped += cost
                kept -= cost
                drop(row)
            self._dropped[0], self.kept[0] = dropped, kept
            return
        fallback, vinv, colnorm = bool(self.fallback[0]), self.vinv[0], self.colnorm[0]
        amp, mass = self.amp[0], float(self.mass[0])
        while slices_left(row)[0] > 1:
            w = oldest(row)[0]  # (F, n)
            if fallback:
                new_amp, new_mass = amp, mass + float(np.abs(w).sum())
                after = new_mass
            else:
                new_amp, new_mass = amp + np.abs(vinv @ w).sum(axis=1), mass
                after = float(colnorm @ new_amp)
            if not after <= budget:
                break
            amp, mass = new_amp, new_mass
            drop(row)
        self.amp[0], self.mass[0] = amp, mass


_ROW0 = np.zeros(1, dtype=int)


def _first(v) -> float:
    """A one-cell value (a number or a length-1 array) as a float."""
    return float(v[0]) if isinstance(v, np.ndarray) else float(v)
