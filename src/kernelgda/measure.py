"""Measuring the dominant eigenvalues of a run from its error sequence (theory section 4).

The delayed errors ``x_k = [e_k; e_{k+1}; ...; e_{k+r-1}]`` are a linear image of
the reduced state while the run is linear, so a least-squares linear recurrence
``x_{k+1} = A x_k`` fitted to them (a Hankel / time-delay dynamic mode
decomposition) recovers the excited eigenvalues of the Jacobian, complex pairs
included. Directions that carry no signal are cut off by an SVD threshold.

Window
------
Only the part of the run that is *linear* (``|e_k| <= linear_limit``, default
``1e-3 sigma``) and *above rounding noise* (envelope of ``|e_k|`` at least
``noise_floor``, default ``1e5 eps max(1, |Y*|)``) is used; of the steps that
pass, the longest contiguous stretch; a run that starts in the linear regime is
cut at the first step that leaves it. The envelope is a running maximum of
``|e_k|`` over ``+-envelope`` steps, so that the zero crossings of an oscillating
error do not cut the window. Each snapshot pair is divided by the envelope, so
that every decade of the decay counts alike.

Spurious modes
--------------
Where the signal excites fewer modes than the snapshots have directions (for
example an isotropic block, whose error keeps one direction), the remaining
directions hold rounding noise or the nonlinear residual, and the fit gives them
eigenvalues of any modulus. They are recognised by their amplitude: only modes
whose largest contribution to a snapshot reaches ``AMP_RTOL`` of the largest
snapshot are reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

__all__ = ["Measurement", "measure_eigenvalues", "default_noise_floor"]

EPS = np.finfo(float).eps
SVD_RTOL = 1e-7  # relative singular-value cut-off: drops only directions at rounding level
#: A fitted mode counts only when its largest contribution to a snapshot is at least this
#: fraction of the largest snapshot. Near the noise floor rounding is ~1e-5 of the
#: (normalized) snapshots and near the linear limit the nonlinear residual ~1e-3; modes fitted
#: to either stay below ~4e-3 (a sweep of 120 random configurations), while every mode that
#: carries the signal reached >= 1e-2 there.
AMP_RTOL = 1e-2


def default_noise_floor(y_star: np.ndarray) -> float:
    """``1e5 eps max(1, |Y*|)``: errors below this are dominated by rounding (theory section 7)."""
    return 1e5 * EPS * max(1.0, float(np.abs(y_star).max()))


@dataclass(frozen=True)
class Measurement:
    """Eigenvalues fitted to a run.

    Attributes
    ----------
    eigenvalues : complex array, sorted by decreasing modulus
        The fitted modes that carry signal (amplitude at least ``AMP_RTOL``, module
        docstring).
    dominant : complex
        The eigenvalue of largest modulus (``nan`` if the window was too short).
    rate : float
        ``|dominant|``.
    window : (int, int)
        First and one-past-last step of the fitted stretch.
    """

    eigenvalues: np.ndarray
    dominant: complex
    rate: float
    window: tuple[int, int]


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    best, start, best_span = (0, 0), None, 0
    for i, ok in enumerate(np.append(mask, False)):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            if i - start > best_span:
                best, best_span = (start, i), i - start
            start = None
    return best


def measure_eigenvalues(errors, *, linear_limit: float, noise_floor: float, delays: int = 2,
                        envelope: int = 10, max_rank: int | None = None,
                        amp_rtol: float = AMP_RTOL) -> Measurement:
    """Fit a linear recurrence to delayed errors and return its eigenvalues.

    Parameters
    ----------
    errors : (K, N) array
        ``e_k`` flattened, one row per step.
    linear_limit, noise_floor : float
        Window bounds on ``|e_k|`` (module docstring).
    delays : int
        Number of delays ``r`` (2 for simultaneous and alternating GDA).
    envelope : int
        Half-width of the running-maximum envelope.
    max_rank : int, optional
        Upper bound on the number of modes kept (the size of the reduced state).
    amp_rtol : float
        Modes whose largest contribution to a normalized snapshot is below ``amp_rtol``
        times the largest snapshot are dropped as noise (default :data:`AMP_RTOL`). A
        dominant mode that the initial error barely excites (under ~1%) and that does
        not outlast the others within the window is missed: lower it for such runs.

    Returns
    -------
    Measurement
    """
    e = np.asarray(errors, dtype=float)
    e = e.reshape(e.shape[0], -1)
    norms = np.linalg.norm(e, axis=1)
    finite = np.isfinite(norms)
    env = maximum_filter1d(np.where(finite, norms, np.inf), size=2 * envelope + 1, mode="nearest")
    ok = finite & (norms <= linear_limit) & (env >= noise_floor)
    inside = finite & (norms <= linear_limit)
    if inside[0] and not inside.all():
        # A run that starts in the linear regime is measured only until it first leaves it:
        # after a nonlinear excursion |e_k| can come back below the limit with the
        # discriminator far from f*, and that stretch is not a linear-regime measurement.
        ok[np.argmin(inside):] = False
    i0, i1 = _longest_run(ok)
    num_snap = i1 - i0 - delays  # number of (x_k, x_{k+1}) pairs
    nan = Measurement(np.array([], dtype=complex), complex(np.nan, np.nan), float("nan"), (i0, i1))
    if num_snap < 3:
        return nan
    seg = e[i0:i1]
    # Delay snapshots: column k is [e_k; ...; e_{k+r-1}], k = 0..num_snap.
    hank = np.concatenate([seg[j:j + num_snap + 1] for j in range(delays)], axis=1).T
    scale = 1.0 / env[i0:i0 + num_snap + 1]
    x0 = hank[:, :-1] * scale[:-1]
    x1 = hank[:, 1:] * scale[:-1]
    u, s, vt = np.linalg.svd(x0, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return nan
    rank = int(np.sum(s > SVD_RTOL * s[0]))
    if max_rank is not None:
        rank = min(rank, max_rank)
    rank = min(rank, num_snap - 1)
    if rank < 1:
        return nan
    u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    a = (u.T @ x1 @ vt.T) / s
    ev, vecs = np.linalg.eig(a)
    # Amplitude of each mode: its largest contribution to a snapshot (module docstring).
    coef = np.linalg.lstsq(vecs, s[:, None] * vt, rcond=None)[0]
    amp = np.linalg.norm(vecs, axis=0) * np.abs(coef).max(axis=1)
    signal = amp >= amp_rtol * np.linalg.norm(x0, axis=0).max()
    if signal.any():
        ev = ev[signal]
    # One modulus per eigenvalue, used both to sort and to report the rate (np.abs and
    # Python's abs may differ in the last bit).
    mods = np.abs(ev)
    order = np.argsort(-mods, kind="stable")
    ev = ev[order]
    dom = ev[0]
    # Of a conjugate pair report the member with positive imaginary part.
    if dom.imag < 0:
        dom = np.conj(dom)
    return Measurement(ev, complex(dom), float(mods[order[0]]), (i0, i1))
