"""Squared 2-Wasserstein distance between weighted point sets (theory section 10, "W2^2").

The progress metric of the authors' experiments: the optimal-transport cost between the
generated measure ``Q = sum_j q_j delta_{y_j}`` and the data ``P = sum_i p_i delta_{x_i}``
with squared Euclidean cost::

    W2^2(Q, P) = min_{T >= 0, T 1 = q, T^T 1 = p} sum_{j,i} T_ji |y_j - x_i|^2 .

The game allows ``sum q != sum p`` (the mass mismatch of theory section 5), for which a
transport plan does not exist; both measures are therefore normalised to unit mass first, as
in the authors' code. The exact linear program is solved by POT (``ot.emd2``), the established
network-simplex solver.
"""

from __future__ import annotations

import numpy as np

from . import _validate as V
from .resources import check_bytes, format_count, pairwise_bytes

__all__ = ["wasserstein2", "wasserstein2_series"]

#: Iteration cap of POT's network simplex; far above what sets of a few thousand points need.
MAX_ITER = 1_000_000


def _unit(w: np.ndarray, name: str) -> np.ndarray:
    total = float(w.sum())
    if not total > 0.0:
        raise ValueError(f"{name}: weights must have a positive sum, got {total!r}")
    return w / total


#: POT looks for every array framework it supports when it is first imported (importing JAX alone
#: takes seconds); kernelgda passes it NumPy arrays only, so those are switched off for that import.
#: A process that imported POT before kernelgda keeps the backends it chose.
POT_DISABLE = ("POT_BACKEND_DISABLE_JAX", "POT_BACKEND_DISABLE_PYTORCH", "POT_BACKEND_DISABLE_TENSORFLOW",
               "POT_BACKEND_DISABLE_CUPY")


def _pot():
    """``import ot`` with POT's other array backends off for that import (:data:`POT_DISABLE`)."""
    import os
    import sys

    if "ot" in sys.modules:
        return sys.modules["ot"]
    saved = {key: os.environ.get(key) for key in POT_DISABLE}
    try:
        for key in POT_DISABLE:
            os.environ[key] = "1"
        import ot
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return ot


def _emd2(y, q, x, p):
    ot = _pot()

    (n, d), m = y.shape, x.shape[0]  # the (n, m, d) differences and the solver's (n, m) plan
    check_bytes(pairwise_bytes(n, m, d + 3), "wasserstein2 cost matrix", hint="use fewer points",
                detail=f"{format_count(n)} x {format_count(m)} pairs x ({d} + 3) float64")
    # Differences, not the |y|^2 + |x|^2 - 2 y.x form: no cancellation for nearby points.
    cost = ((y[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    value, log = ot.emd2(q, p, cost, numItermax=MAX_ITER, log=True)
    if log.get("warning"):
        raise RuntimeError(f"wasserstein2: the transport solver did not finish: {log['warning']}")
    return max(float(value), 0.0)


def wasserstein2(y, q, x, p) -> float:
    """Squared 2-Wasserstein distance between ``sum_j q_j delta_{y_j}`` and ``sum_i p_i delta_{x_i}``.

    Parameters
    ----------
    y : (n, d) array_like
        Generated points.
    q : (n,) array_like or float
        Their weights (non-negative, positive sum; a scalar is repeated).
    x : (m, d) array_like
        True points.
    p : (m,) array_like or float
        Their weights.

    Returns
    -------
    float
        ``W2^2`` between the two measures after normalising each to unit mass.

    Notes
    -----
    Exact optimal transport with squared Euclidean cost (``ot.emd2``), theory section 10.

    Examples
    --------
    >>> round(wasserstein2([[0.0], [2.0]], 1.0, [[1.0], [3.0]], 1.0), 12)
    1.0
    """
    y = V.points(y, "y")
    x = V.points(x, "x", d=y.shape[1])
    q = _unit(V.weights(q, "q", y.shape[0], positive=False), "q")
    p = _unit(V.weights(p, "p", x.shape[0], positive=False), "p")
    return _emd2(y, q, x, p)


def wasserstein2_series(y, q, x, p, *, every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``W2^2`` along a trajectory, at every ``every``-th configuration and the last.

    Parameters
    ----------
    y : (K + 1, n, d) array_like
        Configurations ``Y^0..Y^K`` (e.g. :attr:`Trajectory.y`).
    q, x, p
        As in :func:`wasserstein2`.
    every : int
        Stride between evaluated configurations (``>= 1``).

    Returns
    -------
    steps : (L,) int array
        Indices ``k`` of the evaluated configurations (``0, every, 2 every, ..., K``).
    values : (L,) array
        ``W2^2(Q^k, P)`` at those steps.

    Examples
    --------
    >>> steps, w = wasserstein2_series([[[0.0]], [[0.5]], [[1.0]]], 1.0, [[1.0]], 1.0, every=2)
    >>> steps.tolist(), np.round(w, 12).tolist()
    ([0, 2], [1.0, 0.0])
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 3 or y.shape[0] == 0 or y.shape[1] == 0 or y.shape[2] == 0:
        raise ValueError(f"y must be a non-empty (K + 1, n, d) array, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite")
    every = V.integer(every, "every", minimum=1)
    x = V.points(x, "x", d=y.shape[2])
    q = _unit(V.weights(q, "q", y.shape[1], positive=False), "q")
    p = _unit(V.weights(p, "p", x.shape[0], positive=False), "p")
    last = y.shape[0] - 1
    steps = np.arange(0, last + 1, every)
    if steps[-1] != last:
        steps = np.append(steps, last)
    return steps, np.array([_emd2(y[k], q, x, p) for k in steps])
