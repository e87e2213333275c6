"""Agreement of measured with predicted regimes and rates over a phase diagram (theory section 7).

:func:`compare` takes a simulated phase diagram (which holds both the prediction and the
measurement, :func:`kernelgda.phase_diagram`) and counts, cell by cell, how often the
measured label equals the predicted one, away from and near the label boundaries
(:func:`kernelgda.regimes.boundary_distance`), and how far the measured rates are from the
predicted ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import _validate as V
from .check import MEASURED_TOL
from .regimes import REGIMES, boundary_distance, classify_codes
from .status import Status

__all__ = ["compare", "Comparison", "DEFAULT_MARGIN"]

#: :func:`compare`: a cell is near a boundary when its predicted dominant eigenvalue is
#: within this distance of a classification boundary (see :func:`compare`).
DEFAULT_MARGIN = 5e-4


@dataclass(frozen=True, eq=False)
class Comparison:
    """Agreement of measured with predicted regimes (see :func:`compare`).

    Attributes
    ----------
    num_cells, num_away, num_near : int
        Compared cells (predicted label defined and the cell simulated), and how many
        of them are away from / near a boundary.
    agree_away, agree_near : float
        Fraction of those cells whose measured label equals the predicted one
        (``nan`` for none).
    num_converging : int
        Compared cells predicted to converge (monotone, oscillatory or flipping) with
        a measured rate.
    rate_error_median, rate_error_max : float
        Median and largest ``|measured rate - predicted rate|`` over those cells.
    rate_error_max_away : float
        Largest rate error over the converging cells away from a boundary.
    margin, tol : float
        Boundary margin and the labels' tolerance.
    confusion : dict
        ``confusion[predicted][measured]`` cell counts.
    near, agree : bool arrays
        Per cell (grid shape): near a boundary; measured label equals predicted.
    """

    num_cells: int
    num_away: int
    num_near: int
    agree_away: float
    agree_near: float
    num_converging: int
    rate_error_median: float
    rate_error_max: float
    rate_error_max_away: float
    margin: float
    tol: float
    confusion: dict
    near: np.ndarray = field(repr=False)
    agree: np.ndarray = field(repr=False)

    def as_dict(self) -> dict:
        """The scalars and the confusion table, for JSON (``nan`` as ``None``)."""
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {k: clean(getattr(self, k)) for k in (
            "num_cells", "num_away", "num_near", "agree_away", "agree_near", "num_converging",
            "rate_error_median", "rate_error_max", "rate_error_max_away", "margin", "tol")} | {
            "confusion": self.confusion}

    def table(self) -> str:
        """A short plain-text agreement table."""
        lines = [f"cells compared: {self.num_cells} ({self.num_away} away from a boundary, "
                 f"{self.num_near} near one; margin {self.margin:g}, label tolerance {self.tol:g})",
                 f"agreement away from boundaries: {self.agree_away:.4f}",
                 f"agreement near boundaries:      {self.agree_near:.4f}",
                 f"rate error over {self.num_converging} converging cells: median "
                 f"{self.rate_error_median:.3g}, max {self.rate_error_max:.3g} "
                 f"(max away from boundaries {self.rate_error_max_away:.3g})",
                 "predicted -> measured counts:"]
        for pred, row in self.confusion.items():
            lines.append(f"  {pred:>12}: " + ", ".join(f"{m} {c}" for m, c in row.items()))
        return "\n".join(lines)


def compare(predicted, measured=None, *, margin: float = DEFAULT_MARGIN) -> Comparison:
    """Compare measured regimes and rates with predicted ones, cell by cell.

    Parameters
    ----------
    predicted : xarray.Dataset
        From :func:`phase_diagram` (any method): ``dominant_real``, ``dominant_imag``,
        ``generator_rate``.
    measured : xarray.Dataset, optional
        From :func:`phase_diagram` with ``method="simulate"`` on the same grid;
        default ``predicted`` itself (a simulated dataset holds both).
    margin : float
        Boundary margin (below).

    Returns
    -------
    Comparison

    Notes
    -----
    Both labels use the measurement's tolerance ``tol = measure_tol``: the predicted
    dominant eigenvalue ``z`` is relabelled with it. A cell is *near a boundary* when
    (i) :func:`boundary_distance` of ``z`` is at most ``margin`` (``|z|`` within
    ``margin`` of ``1 +- tol``, ``|Im z|`` within ``margin`` of ``tol``, or ``z`` real
    within ``margin`` of 0), or (ii) another generator-visible eigenvalue has a modulus
    within ``margin`` of ``|z|`` (``runner_up_rate``: which mode dominates, and so the
    label, is then decided by less than the margin). The default margin
    :data:`DEFAULT_MARGIN` ``= 5e-4`` is half the measured-label tolerance (so a neutral
    or cycling ``|z| = 1`` is away from the boundaries ``1 +- 1e-3``) and far above the
    accuracy of a fitted modulus in the linear regime (about 1e-9 in the tests). Cells
    with an undetermined prediction or a skipped simulation are not compared. Rate
    errors are over cells predicted to converge with a finite measured rate.

    Examples
    --------
    >>> from kernelgda import phase_diagram
    >>> ds = phase_diagram({"lam": [0.5, 1.0]}, {"eta_d": 0.1, "eta_g": 0.1, "sigma": 1.0},
    ...                    method="simulate", num_steps=300)
    >>> res = compare(ds)
    >>> res.num_cells, res.agree_away, bool(res.rate_error_max < 1e-6)
    (2, 1.0, True)
    """
    measured = predicted if measured is None else measured
    for ds, need, what in ((predicted, ("dominant_real", "dominant_imag", "generator_rate", "runner_up_rate"),
                            "predicted"),
                           (measured, ("measured_regime", "measured_rate", "status"), "measured")):
        missing = [v for v in need if v not in getattr(ds, "data_vars", {})]
        if missing:
            raise ValueError(f"{what} must be a phase_diagram dataset with {', '.join(need)} "
                             f"(method='simulate' for measured); missing {', '.join(missing)}")
    if predicted.regime.dims != measured.measured_regime.dims or any(
            not np.array_equal(predicted[d].values, measured[d].values) for d in predicted.regime.dims):
        raise ValueError("predicted and measured must be on the same grid (same axes and values)")
    margin = V.scalar(margin, "margin", nonnegative=True)
    tol = float(measured.attrs.get("measure_tol", MEASURED_TOL))
    z = predicted.dominant_real.values + 1j * predicted.dominant_imag.values
    pcode = classify_codes(z, tol)
    mcode = measured.measured_regime.values
    valid = (pcode >= 0) & (measured.status.values != Status.SKIPPED.code)
    near = boundary_distance(z, tol, runner_up=predicted.runner_up_rate.values) <= margin
    agree = pcode == mcode
    away = valid & ~near
    close = valid & near

    def frac(mask):
        return float(agree[mask].mean()) if mask.any() else float("nan")

    rate_m = measured.measured_rate.values
    conv = valid & (pcode >= 0) & (pcode <= 2) & np.isfinite(rate_m)
    err = np.abs(rate_m - predicted.generator_rate.values)
    labels = ("undetermined",) + REGIMES
    confusion = {}
    for pc, mc in zip(pcode[valid].tolist(), mcode[valid].tolist(), strict=True):
        row = confusion.setdefault(labels[pc + 1], {})
        row[labels[mc + 1]] = row.get(labels[mc + 1], 0) + 1

    def stat(fn, mask):
        return float(fn(err[mask])) if mask.any() else float("nan")

    return Comparison(
        num_cells=int(valid.sum()), num_away=int(away.sum()), num_near=int(close.sum()),
        agree_away=frac(away), agree_near=frac(close), num_converging=int(conv.sum()),
        rate_error_median=stat(np.median, conv), rate_error_max=stat(np.max, conv),
        rate_error_max_away=stat(np.max, conv & ~near), margin=margin, tol=tol,
        confusion=confusion, near=near & valid, agree=agree)
