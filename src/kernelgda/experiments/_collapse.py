"""Moment models of the collapse state of ``local-minima`` (theory sections 9 and 11), and the
classification of its runs by outcome (theory section 10).

Both generated points of the 1-D worst case (true points ``config.x``, the second one ``+1``)
gathered on ``+1`` as one cloud: the section-9 stationary spread of the second-moment model
and the settled state of the Gaussian closure. ``config`` is a
:class:`kernelgda.experiments.local_minima.Config`.
"""

from __future__ import annotations

import numpy as np

from ..game import GDA, KernelGAN
from ..kernels import Gaussian
from ..moments import Clusters, gaussian_closure_batch
from ..smm import stationary_spread
from ..status import Status

__all__ = ["smm_spread", "closure_collapse", "CLOSURE_SETTLE", "CLOSURE_TAIL", "OUTCOMES", "FAR",
           "ESCAPE_MOVE", "SETTLE_MOVE", "TAIL", "classify_runs"]

#: Outcomes of a run, in the order of their integer codes.
OUTCOMES = ("global fit", "collapse", "stall", "escape", "diverged", "unsettled")
#: A point further than ``FAR`` widths from every true point is off the data (stall or escape).
FAR = 3.0
#: An off-data point that moved more than ``ESCAPE_MOVE`` widths over the last tenth of the
#: run is escaping; otherwise it has stalled (theory section 10, "Stall points").
ESCAPE_MOVE = 1.0
#: A run near the data whose points still moved more than ``SETTLE_MOVE`` widths over the
#: last tenth of the run is unsettled (its end is not yet a verdict).
SETTLE_MOVE = 0.1
#: Fraction of a run (its last part) over which the motion above is measured.
TAIL = 0.1

#: The closure's collapse cluster has settled when, over the last ``CLOSURE_TAIL`` of its
#: run, its spread changed by at most this fraction and its mean by at most this many widths.
CLOSURE_SETTLE = 1e-6
#: Fraction of the closure run (its last part) over which settling is measured.
CLOSURE_TAIL = 0.1


def _weight(config) -> float:
    q = np.array(config.q, dtype=float)
    if not np.allclose(q, q[0], rtol=1e-12, atol=0.0):
        raise ValueError("config.q: the moment models need equal generated weights")
    return float(q[0])


def smm_spread(config, sigma) -> np.ndarray:
    """Section-9 stationary spread of the collapse pair (:func:`kernelgda.smm.stationary_spread`).

    Both generated points (``n = len(config.q)``, weight ``q`` each) around the true point
    ``+1`` of mass ``p``: ``tr S_inf = -d g delta / (g2 Q (1 + d/2))`` with ``d = 1``, i.e.
    ``-delta sigma^2 / (1.5 Q)`` for the Gaussian kernel (``sigma^2 / 3`` in the authors'
    setting); one value per width in ``sigma``.
    """
    sigma = np.atleast_1d(np.asarray(sigma, dtype=float))
    q = _weight(config)
    return np.array([stationary_spread(Gaussian(sigma=s), p=config.p[1], q=q, n=len(config.q), d=1)
                     for s in sigma], dtype=float)


def closure_collapse(config, sigmas):
    """The Gaussian closure (theory section 11) of the collapse cluster, for each width.

    One cluster holds both generated points (``n = 2``, weight ``q`` each, mass ``Q``),
    started at mean ``+1`` with the section-9 spread (:func:`smm_spread`) and ``f0 = 0``;
    the true point ``-1`` gets no cluster. The closure runs ``config.closure_steps`` steps
    of ``config.mode`` GDA (history truncated at ``config.history_tol``), all widths in one
    batch.

    Returns
    -------
    mean, spread : (S,) arrays
        The cluster's mean and spread ``tr S`` at the end of the run.
    settled : (S,) bool array
        Over the last ``CLOSURE_TAIL`` of the run the spread changed by at most
        ``CLOSURE_SETTLE`` of itself and the mean by at most ``CLOSURE_SETTLE`` widths.
    holds : (S,) bool array
        Settled with its mean within one width of ``+1``: the closure has a collapse state.
        Where it does not, the cluster drifts between the true points and spreads over both.

    Notes
    -----
    Far from ``-1`` the settled state has ``e = +1`` and, from ``E[f''(y)] = 0`` under the
    stationary discriminator ``(p K(., +1) - Q E K(., y)) / lam`` with the bump moments of
    theory section 11, ``((sigma^2 + 2 S) / (sigma^2 + S))^(3/2) = Q / p``: ``S = 1.424
    sigma^2`` for ``Q / p = 2``, 4.27 times the section-9 value (whose second-order
    expansion is poor at so large an excess mass).
    """
    sigmas = np.atleast_1d(np.asarray(sigmas, dtype=float))
    q = _weight(config)
    x = np.array(config.x, dtype=float)[:, None]
    gans = [KernelGAN(x, np.array(config.p), Gaussian(sigma=s), lam=config.lam) for s in sigmas]
    clusters = [Clusters([[config.x[1]]], [[[v]]], len(config.q), q)
                for v in smm_spread(config, sigmas)]
    gda = GDA(config.eta_d, config.eta_g, config.mode)
    runs = gaussian_closure_batch(gans, gda, clusters, config.closure_steps,
                                  history_tol=config.history_tol)
    mean, spread = runs.mean[:, -1, 0, 0], runs.spread[:, -1, 0]
    back = -1 - max(1, int(round(CLOSURE_TAIL * config.closure_steps)))
    with np.errstate(invalid="ignore"):  # nan where a run diverged: not settled
        settled = ((np.abs(spread - runs.spread[:, back, 0]) <= CLOSURE_SETTLE * spread)
                   & (np.abs(mean - runs.mean[:, back, 0, 0]) <= CLOSURE_SETTLE * sigmas))
        holds = settled & (np.abs(mean - config.x[1]) <= sigmas)
    return mean, spread, settled, holds


def classify_runs(y: np.ndarray, status, x: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Outcome code (index into :data:`OUTCOMES`) of each run of a 1-D batch.

    Parameters
    ----------
    y : (B, T + 1, n, 1) array
        Trajectories (rows after a divergence may be ``nan``).
    status : (B,) sequence of str
    x : (m,) array
        True points.
    sigma : (B,) array
        Kernel widths.
    """
    num_steps = y.shape[1] - 1
    tail = max(1, int(round(TAIL * num_steps)))
    out = np.empty(y.shape[0], dtype=np.int8)
    for b in range(y.shape[0]):
        if str(status[b]) == Status.DIVERGED.label or not np.all(np.isfinite(y[b, -1])):
            out[b] = OUTCOMES.index("diverged")
            continue
        end = y[b, -1, :, 0]
        move = np.abs(end - y[b, -1 - tail, :, 0]) / sigma[b]
        dist = np.abs(end[:, None] - x[None, :])
        far = dist.min(axis=1) > FAR * sigma[b]
        if far.any():
            escaping = np.any(move[far] > ESCAPE_MOVE)
            out[b] = OUTCOMES.index("escape" if escaping else "stall")
        elif move.max() > SETTLE_MOVE:
            out[b] = OUTCOMES.index("unsettled")
        elif np.unique(dist.argmin(axis=1)).size == x.size:
            out[b] = OUTCOMES.index("global fit")
        else:
            out[b] = OUTCOMES.index("collapse")
    return out
