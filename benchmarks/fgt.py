"""Issue 21 benchmarks: the fast Gauss transform against the exact path; the batched ``d >= 2``
path against a loop of ``kg.simulate``.

Each function returns rows ``(item, case, seconds, result)`` for the table printed by
``python -m benchmarks``; nothing here is a test (speed is never asserted). Ratios are
measured in the same process, alternating the candidates (the machine is shared).

Run alone: ``python -m benchmarks.fgt [--quick]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import exact_pairs, machine, standard_problem


def _small_cells(n, d, num_cells, seed=0):
    """``num_cells`` games of ``n`` generated points around ``n`` true points in ``d`` dimensions,
    Gaussian widths from 0.5 to 1.5 over the cells, one ``eta_d lam = 0.05`` (sweeps batch
    cells of similar ``eta_d lam``: the batch evaluates the longest kept window)."""
    import kernelgda as kg

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    sig = np.geomspace(0.5, 1.5, num_cells)
    lam = np.full(num_cells, 0.5)  # one eta_d lam: sweeps batch cells of similar eta_d lam
    gans = [kg.KernelGAN(x, 1.0, kg.Gaussian(s), lam=lm) for s, lm in zip(sig, lam, strict=True)]
    y0 = x[None] + 0.1 * rng.normal(size=(num_cells, n, d))
    return gans, kg.GDA(0.1, 0.05, mode="alternating"), y0


def _einsum_grad(prof, y, centers, weights, factor, scratch, origin=None):
    """The batched kernel sum as it was before issue 21 (the baseline of :func:`batched_small`):
    a fresh ``(w, n, M, d)`` difference array per block and ``einsum`` contractions."""
    from kernelgda.discriminator import batched

    num, n, d = y.shape
    if d == 1 or prof.generic or centers.shape[1] == 0:
        return batched.expansion_grad(prof, y, centers, weights, factor, scratch, origin)
    out = np.empty_like(y)
    size = centers.shape[1]
    step = max(1, batched.BLOCK_ELEMENTS // (n * size * d))
    for lo in range(0, num, step):
        rows = slice(lo, min(num, lo + step))
        r = y[rows, :, None, :] - centers[rows, None, :, :]
        e = prof.dphi_over_scale(np.einsum("wnmd,wnmd->wnm", r, r), rows)
        e *= weights[rows, None, :]
        out[rows] = np.einsum("wnm,wnmd->wnd", e, r)
    out *= (2.0 * prof.scale * factor)[:, None, None]
    return out


def batched_small(sizes=(8, 16), dims=(2, 3), num_cells: int = 32, num_steps: int = 300,
                  history_tol: float = 1e-8, repeats: int = 3) -> list:
    """Seconds per cell of ``simulate_batch`` against a loop of ``kg.simulate`` (truncated history).

    The issue-21 case: small ``n`` in ``d >= 2``, where the batched kernel sums used to be
    slower than separate runs. Best of ``repeats``, the two candidates alternated; the
    last column is the largest ``|y_batch - y_loop|`` (rounding: the two paths sum in
    different orders). "before" is the same batch with the pre-issue-21 kernel sum
    (:func:`_einsum_grad`), timed in the same loop.
    """
    import kernelgda as kg
    from kernelgda.discriminator import batched

    rows = []
    for d in dims:
        for n in sizes:
            gans, gda, y0 = _small_cells(n, d, num_cells)
            tb = tl = told = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                batch = kg.simulate_batch(gans, gda, y0, 1.0, num_steps, history_tol=history_tol)
                tb = min(tb, time.perf_counter() - t0)
                new, batched.expansion_grad = batched.expansion_grad, _einsum_grad
                try:
                    t0 = time.perf_counter()
                    kg.simulate_batch(gans, gda, y0, 1.0, num_steps, history_tol=history_tol)
                    told = min(told, time.perf_counter() - t0)
                finally:
                    batched.expansion_grad = new
                t0 = time.perf_counter()
                loop = [kg.simulate(g, gda, y0[i], 1.0, num_steps, history_tol=history_tol)
                        for i, g in enumerate(gans)]
                tl = min(tl, time.perf_counter() - t0)
            dev = max(float(np.abs(batch.y[i] - tr.y).max()) for i, tr in enumerate(loop))
            rows.append(("21b", f"batch vs loop, n={n}, d={d}, {num_cells} cells, T={num_steps}, "
                         f"history_tol={history_tol:g}", tb,
                         f"{1e3 * tb / num_cells:.2f} ms/cell batched, {1e3 * tl / num_cells:.2f} "
                         f"ms/cell loop: batch/loop time {tb / tl:.2f} (before: {told / tl:.2f}, "
                         f"{told / tb:.1f}x slower than now); max |dy| {dev:.0e}"))
    return rows


def transform(steps=(2000, 20000), tols=(1e-6, 1e-10), long_steps: int = 100_000) -> list:
    """``kg.FastGaussTransform`` against the exact path at ``lam = 0`` (nothing can be truncated).

    ``n = m = 20``, ``d = 2``, the benchmark game (:func:`benchmarks.standard_problem`,
    alternating, ``eta_d = 0.1``, ``eta_g = 0.01``) with ``lam = 0``. For each ``T``: the exact
    run (every slice kept) and the transform at each tolerance, with the largest ``|y - y_exact|``
    and the certified gradient bound; then one run of ``long_steps`` with the transform only,
    next to the exact path's time projected from its measured pair rate.
    """
    import kernelgda as kg

    gan, gda, y0, q = standard_problem(20, 20, 2, lam=0.0)
    rows, rate = [], None
    for num in steps:
        t0 = time.perf_counter()
        exact = kg.simulate(gan, gda, y0, q, num)
        te = time.perf_counter() - t0
        rate = exact_pairs(20, 20, num) / te
        rows.append(("21t", f"exact, lam=0, n=m=20, d=2, T={num}", te,
                     f"{exact.status}; {exact.num_slices} slices; {rate:.3g} pairs/s"))
        for tol in tols:
            spec = kg.FastGaussTransform(tol)
            t0 = time.perf_counter()
            fast = kg.simulate(gan, gda, y0, q, num, discriminator=spec)
            tf = time.perf_counter() - t0
            dev = float(np.abs(fast.y - exact.y).max())
            rows.append(("21t", f"transform tol={tol:g}, T={num}", tf,
                         f"{te / tf:.1f}x the exact path; max |y - y_exact| {dev:.1e} (sigma "
                         f"{gan.kernel.sigma:g}); certified grad bound {fast.truncation_bound:.1e}"))
    if long_steps:
        tol = tols[-1]
        t0 = time.perf_counter()
        fast = kg.simulate(gan, gda, y0, q, long_steps, discriminator=kg.FastGaussTransform(tol),
                           record_every=100)
        tf = time.perf_counter() - t0
        projected = exact_pairs(20, 20, long_steps) / rate
        rows.append(("21t", f"transform tol={tol:g}, T={long_steps}", tf,
                     f"{fast.status}; certified grad bound {fast.truncation_bound:.1e}; exact path "
                     f"projected {projected:.0f} s ({exact_pairs(20, 20, long_steps):.2g} pairs at "
                     f"the T={steps[-1]} rate), {projected / tf:.0f}x"))
    return rows


def _table(rows) -> str:
    lines = ["| item | case | time (s) | result |", "|---|---|---:|---|"]
    lines += [f"| {i} | {c} | {t:.2f} | {r} |" for i, c, t, r in rows]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fgt", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problems (smoke run)")
    parser.add_argument("--only", choices=["batched", "transform"], help="run one part")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    rows = []
    if args.only in (None, "transform"):
        rows += transform(steps=(500, 2000) if args.quick else (2000, 20000),
                          long_steps=5000 if args.quick else 100_000)
    if args.only in (None, "batched"):
        rows += batched_small(num_cells=8 if args.quick else 32, num_steps=100 if args.quick else 300)
    print(_table(rows))


__all__ = ["batched_small", "transform"]

if __name__ == "__main__":
    main()
