"""Gaussian closure against the exact dynamics as clusters grow (issue 14, theory section 11).

``J`` clusters of ``n`` points each (``d = 2``), one per true point on a circle of radius 1
(Gaussian kernel ``sigma = 0.5``, ``lam = 0.5``, matched mass, alternating, ``f0 = 0``).
Both runs take the same ``T`` steps with the full history, so both hold the same number of
history slices at every step: the exact run ``J n`` kernel centres per slice, the closure
``J`` bumps. Per step the exact dynamics cost ``O(k (J n)^2 d)`` and the closure
``O(k J^2 d^3)``, both linear in the history length ``k``, so the ratio of the times per
step measured over a short run carries over to any window (e.g. the truncated one,
``log(eps lam) / log(1 - eta_d lam)`` steps); a second table checks it on long truncated
runs for small ``n``. Timings are the best of ``repeats`` runs.

Measured on 2026-12-03 (2-core Xeon shared with other jobs, J = 2, d = 2): short runs cross
over at n ~ 35-50 points per cluster; at n = 10,000 the exact step takes 3.6 s and the closure
0.16 ms, a ratio of 2.2e4 (6.6e4 under heavier load); long truncated runs (window ~380 steps)
cross over at n <= 10 (ratio 1.4 at n = 10, 97 at n = 100).

Run: ``python -m benchmarks.moments [--quick]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import best_time, machine

SIZES = (10, 30, 100, 300, 1000, 3000, 10000)
#: Steps of the steady-state runs (the truncated window, ~380 steps at eta_d lam = 0.05 and
#: history_tol = 1e-8, fills in the first ~380).
STEADY_STEPS = 800


def problem(num_clusters: int, n: int, *, seed: int = 0):
    """The game, GDA settings, start points, weights and cluster labels."""
    import kernelgda as kg

    ang = 2 * np.pi * np.arange(num_clusters) / num_clusters
    x = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    gan = kg.KernelGAN(x, 1.0 / num_clusters, kg.Gaussian(0.5), lam=0.5)
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_clusters), n)
    y0 = x[labels] + 0.1 * rng.normal(size=(labels.size, 2))
    q = 1.0 / (num_clusters * n)
    return gan, kg.GDA(0.1, 0.1 / q), y0, q, labels


def run(sizes=SIZES, *, num_clusters: int = 2, num_steps: int = 5, repeats: int = 2,
        history_tol: float | None = None) -> list[dict]:
    """Time per step of ``kg.simulate`` and ``kg.moments.gaussian_closure`` for each ``n``."""
    import kernelgda as kg

    rows = []
    for n in sizes:
        gan, gda, y0, q, labels = problem(num_clusters, n)
        clusters = kg.moments.clusters_from_points(y0, q, labels)
        reps = repeats if n <= 3000 else 1
        t_exact, _ = best_time(lambda g=gan, s=gda, y=y0, w=q: kg.simulate(
            g, s, y, w, num_steps, history_tol=history_tol), reps)
        t_closure, _ = best_time(lambda g=gan, s=gda, c=clusters: kg.moments.gaussian_closure(
            g, s, c, num_steps, history_tol=history_tol), max(repeats, 3))
        rows.append({"n": n, "points": num_clusters * n, "exact_s_per_step": t_exact / num_steps,
                     "closure_s_per_step": t_closure / num_steps,
                     "ratio": t_exact / t_closure})
    return rows


def crossover(rows) -> float:
    """Smallest ``n`` (log-interpolated) where the exact run is slower than the closure."""
    prev = None
    for row in rows:
        if row["ratio"] >= 1:
            if prev is None:  # already slower at the smallest n: the crossover is at most that
                return float(row["n"])
            lo, hi = np.log(prev["ratio"]), np.log(row["ratio"])
            w = -lo / (hi - lo)
            return float(np.exp((1 - w) * np.log(prev["n"]) + w * np.log(row["n"])))
        prev = row
    return float("nan")


def table(rows) -> str:
    lines = ["| n per cluster | points | exact (ms/step) | closure (ms/step) | exact / closure |",
             "|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['points']} | {1e3 * r['exact_s_per_step']:.3g} | "
                     f"{1e3 * r['closure_s_per_step']:.3g} | {r['ratio']:.3g} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.moments", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n up to 1000 (seconds)")
    parser.add_argument("--clusters", type=int, default=2, help="J (default 2)")
    parser.add_argument("--steps", type=int, default=5, help="T per timed run (default 5)")
    args = parser.parse_args(argv)
    sizes = tuple(s for s in SIZES if s <= 1000) if args.quick else SIZES
    print(f"kernelgda moments benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {machine()}")
    print(f"J = {args.clusters} clusters, d = 2, T = {args.steps} steps, full history\n")
    rows = run(sizes, num_clusters=args.clusters, num_steps=args.steps)
    print(table(rows))
    print(f"\ncrossover (exact slower than the closure) at n ~ {crossover(rows):.3g} points per cluster")
    print(f"ratio at n = {rows[-1]['n']}: {rows[-1]['ratio']:.3g}")
    # Steady state: a long run with truncation, whose window (about 380 steps here) fills.
    steady = run((10, 30) if args.quick else (10, 30, 100), num_clusters=args.clusters,
                 num_steps=STEADY_STEPS, repeats=1, history_tol=1e-8)
    print(f"\nsteady state: T = {STEADY_STEPS} steps, history_tol = 1e-8 (window ~380 steps)\n")
    print(table(steady))
    cross = crossover(steady)
    at_most = "<= " if cross == steady[0]["n"] else "~ "
    print(f"\ncrossover at n {at_most}{cross:.3g} points per cluster")


if __name__ == "__main__":
    main()
