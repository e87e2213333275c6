"""The second-moment model over large grids of cells, without the history (theory section 9).

:func:`fall_steps` runs the recursion of :mod:`kernelgda.smm` for every cell of a
parameter grid and records when the mean squared distance ``tr S + |e|^2`` first
falls by given factors. The state of a block of cells is kept with the cell axis
last (``e (d, N)``, ``S, C (d, d, N)``), the ``d x d`` products are written out
component by component, and blocks of :data:`BLOCK` cells are advanced in turn so
that the temporaries stay in cache: the cost is ``O(d^3)`` per cell and step and the
memory ``O(d^2)`` per cell.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as V
from ._model import Model, as_array, check_moments

__all__ = ["fall_steps", "BLOCK"]

#: Cells advanced together: 8192 float64 = 64 KiB per component array, so that the few
#: dozen arrays of a block stay in a 1-2 MiB L2 cache.
BLOCK = 8192


def fall_steps(kernel, *, p, q, n, lam, gda, e0, cov0, num_steps, factors=(1e3, 1e6),
               start="equilibrium", linear=True):
    """Steps until the mean squared distance ``tr S + |e|^2`` falls by each factor, over a grid.

    The recursion of :func:`kernelgda.smm.run` (and its linear counterpart) without
    keeping the history, so that grids of millions of cells fit in memory.

    Parameters
    ----------
    kernel, p, q, n, lam, gda, e0, cov0, num_steps, start
        As in :func:`kernelgda.smm.run` (all broadcast over the batch of cells).
    factors : sequence of float > 1
        Fall factors ``F``: the first ``k`` with ``tr W_k <= tr W_0 / F`` is recorded,
        ``W = S + e e^T``.
    linear : bool
        Also run the linear model (the recursion without the ``g2`` terms).

    Returns
    -------
    smm, linear : ``(*B, len(factors))`` int arrays
        First step reaching each factor, ``-1`` if not within ``num_steps`` (``linear``
        is ``None`` when not asked for).

    Examples
    --------
    >>> import kernelgda as kg
    >>> smm_k, lin_k = kg.smm.fall_steps(kg.Gaussian(1.0), p=1.0, q=1 / 8, n=8, lam=[0.5, 1.0],
    ...                                   gda=kg.GDA(0.1, 2.0), e0=[0.0], cov0=[[0.01]],
    ...                                   num_steps=3000, factors=[10.0])
    >>> smm_k.shape, bool((smm_k > 0).all()), lin_k.ravel().tolist()
    ((2, 1), True, [-1, -1])
    """
    e0, cov0, d = check_moments(e0, cov0)
    num_steps = V.integer(num_steps, "num_steps", minimum=0)
    fac = as_array(factors, "factors").ravel()
    if fac.size == 0 or np.any(fac <= 1):
        raise ValueError("factors must be a non-empty list of numbers > 1")
    batch = np.broadcast_to(0.0, np.broadcast_shapes(e0.shape[:-1], cov0.shape[:-2]))
    # per cell: six coefficients, e and S with their copies and work buffers, the results
    V.broadcast_cells("fall_steps grid", 6 + 6 * (d + d * d) + 2 * fac.size, p=p, q=q, n=n, lam=lam,
                      batch=batch)
    m = Model(kernel, p, q, n, lam, gda, np.broadcast_shapes(e0.shape[:-1], cov0.shape[:-2]), start)
    shape = m.shape
    num = int(np.prod(shape, dtype=int))
    coef = {name: np.ascontiguousarray(np.broadcast_to(getattr(m, name), shape).reshape(num))
            for name in ("decay", "slope", "drive", "second", "move", "c0")}
    e_all = np.broadcast_to(e0, shape + (d,)).reshape(num, d)
    s_all = np.broadcast_to(cov0, shape + (d, d)).reshape(num, d, d)
    models = (True, False) if linear else (True,)
    out = [np.full((num, fac.size), -1) for _ in models]
    for lo in range(0, num, BLOCK):
        hi = min(lo + BLOCK, num)
        block = {k: v[lo:hi] for k, v in coef.items()}
        e = np.ascontiguousarray(e_all[lo:hi].T)
        S = np.ascontiguousarray(np.moveaxis(s_all[lo:hi], 0, -1))
        for res, second_order in zip(out, models, strict=False):
            res[lo:hi] = _block_fall(block, e, S, fac, num_steps, second_order, m.alternating)
    smm = out[0].reshape(shape + (fac.size,))
    lin = out[1].reshape(shape + (fac.size,)) if linear else None
    return smm, lin


def _block_fall(cf, e0, S0, fac, num_steps, second_order, alternating):
    """First steps of the fall for one block: ``e0 (d, N)``, ``S0 (d, d, N)``; returns ``(N, F)``.

    Every operation writes into preallocated buffers; ``C`` and ``S`` stay symmetric,
    so only their upper triangles are computed.
    """
    d, num = e0.shape
    decay, slope, drive, second, move = (cf[k] for k in ("decay", "slope", "drive", "second", "move"))
    neg_move = -move
    e, S = e0.copy(), S0.copy()
    b = np.zeros((d, num))
    C = np.zeros((d, d, num))
    for i in range(d):
        C[i, i] = cf["c0"]
    e2, b2, S2, C2 = np.empty_like(e), np.empty_like(b), np.empty_like(S), np.empty_like(C)
    M, T = np.empty((d, d, num)), np.empty((d, d, num))
    tmp, w, half_w = np.empty(num), np.empty(num), np.empty(num)
    hit = np.empty(num, dtype=bool)
    upper = [(i, j) for i in range(d) for j in range(i, d)]

    def second_moment(out):  # tr S + |e|^2 = tr W
        np.multiply(e[0], e[0], out=out)
        out += S[0, 0]
        for i in range(1, d):
            np.multiply(e[i], e[i], out=tmp)
            out += tmp
            out += S[i, i]

    order = np.argsort(fac)                    # largest target (smallest factor) first
    second_moment(w)
    w0 = w.copy()
    level = np.zeros(num, dtype=int)           # next factor (in ``order``) each cell waits for
    current = w0 / fac[order[0]]
    first = np.full((num, fac.size), -1)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, num_steps + 1):
            # discriminator: b+ = decay b - slope e, C+ = decay C + drive I + second (W + tr W I / 2)
            for i in range(d):
                np.multiply(b[i], decay, out=b2[i])
                np.multiply(e[i], slope, out=tmp)
                b2[i] -= tmp
            if second_order:
                np.multiply(w, 0.5, out=half_w)       # w = tr W of the current state
            for i, j in upper:
                np.multiply(C[i, j], decay, out=C2[i, j])
                if second_order:
                    np.multiply(e[i], e[j], out=tmp)
                    tmp += S[i, j]
                    if i == j:
                        tmp += half_w
                    tmp *= second
                    C2[i, j] += tmp
                if i == j:
                    C2[i, i] += drive
                else:
                    C2[j, i] = C2[i, j]
            bt, Ct = (b2, C2) if alternating else (b, C)
            # generator: M = I - move C~, e+ = M e + move b~, S+ = M S M^T
            np.multiply(Ct, neg_move, out=M)
            for i in range(d):
                M[i, i] += 1.0
                np.multiply(bt[i], move, out=e2[i])
                for j in range(d):
                    np.multiply(M[i, j], e[j], out=tmp)
                    e2[i] += tmp
            for i in range(d):
                for kk in range(d):
                    np.multiply(M[i, 0], S[0, kk], out=T[i, kk])
                    for j in range(1, d):
                        np.multiply(M[i, j], S[j, kk], out=tmp)
                        T[i, kk] += tmp
            for i, j in upper:
                np.multiply(T[i, 0], M[j, 0], out=S2[i, j])
                for kk in range(1, d):
                    np.multiply(T[i, kk], M[j, kk], out=tmp)
                    S2[i, j] += tmp
                if i != j:
                    S2[j, i] = S2[i, j]
            e, e2, b, b2, S, S2, C, C2 = e2, e, b2, b, S2, S, C2, C
            second_moment(w)
            np.less_equal(w, current, out=hit)
            while hit.any():                   # a cell may pass several factors in one step
                idx = np.nonzero(hit)[0]
                first[idx, order[level[idx]]] = k
                level[idx] += 1
                done = level[idx] >= fac.size
                current[idx] = np.where(done, -np.inf, w0[idx] / fac[order[np.minimum(level[idx],
                                                                                     fac.size - 1)]])
                hit[:] = False
                hit[idx] = w[idx] <= current[idx]
            if k % 64 == 0 and (level >= fac.size).all():
                break
    return first
