"""Speed of the second-moment model over parameter grids (issue 11).

Run with ``python -m benchmarks.smm`` (``--quick``: a 200 x 200 grid). Prints a table:

- ``grid``: a 1000 x 1000 ``(lam, spread)`` grid of SMM runs of 1000 steps in ``d = 1``
  (``kg.smm.fall_steps`` with ``linear=False``: steps until ``tr S + |e|^2`` falls by
  1e3 and 1e6), vectorized over the cells;
- ``grid, d = 1, every cell all steps``: the same with a fall factor no cell reaches, so that
  no block stops early (the worst case);
- ``grid, d = 2``: the same on a grid 16 times smaller in ``d = 2`` (cost ``O(d^3)``);
- ``loop``: ``kg.smm.run`` cell by cell on 200 cells of the same grid, extrapolated per
  cell; the speed-up is the ratio of the per-cell times, both measured in this run.

Game: one true point of mass 1, ``n = 10`` points of total mass 0.9 (deficit, so that
spreads fall), Gaussian ``sigma = 1``, ``eta_d = 0.1``, ``eta_g = 2``, alternating,
discriminator at the isolated ``f*``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kernelgda as kg

from . import machine

GAME = {"p": 1.0, "q": 0.09, "n": 10}
GDA = kg.GDA(0.1, 2.0)


def grid(num, d):
    lam = np.geomspace(0.01, 10.0, num)[:, None]
    spread = np.geomspace(0.01, 0.5, num)[None, :]
    cov0 = (spread**2)[..., None, None] * np.eye(d)
    return lam, cov0


def timed_grid(num, d, steps, factors=(1e3, 1e6)):
    lam, cov0 = grid(num, d)
    start = time.perf_counter()
    smm, _ = kg.smm.fall_steps(kg.Gaussian(1.0), lam=lam, gda=GDA, e0=np.zeros(d), cov0=cov0,
                               num_steps=steps, linear=False, factors=factors, **GAME)
    return time.perf_counter() - start, smm


def timed_loop(num, d, steps, cells=200):
    lam, cov0 = grid(num, d)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, num, size=(cells, 2))
    start = time.perf_counter()
    for i, j in idx:
        kg.smm.run(kg.Gaussian(1.0), lam=float(lam[i, 0]), gda=GDA, e0=np.zeros(d), cov0=cov0[0, j],
                   num_steps=steps, **GAME)
    return (time.perf_counter() - start) / cells


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.smm", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 200 x 200 grid")
    args = parser.parse_args(argv)
    num, steps = (200, 1000) if args.quick else (1000, 1000)
    print(f"machine: {machine()}")
    t1, smm = timed_grid(num, 1, steps)
    t_all, _ = timed_grid(num, 1, steps, factors=(1e300,))     # no cell stops early
    t2, _ = timed_grid(num // 4, 2, steps)
    per_cell = timed_loop(num, 1, steps)
    cells = num * num
    print("| case | cells x steps | time (s) | result |")
    print("|---|---|---:|---|")
    print(f"| grid, d = 1 | {num} x {num} x {steps} | {t1:.2f} | "
          f"{cells * steps / t1 / 1e6:.0f} M nominal cell-steps/s (a block stops once all its cells "
          f"fell by 1e6: {np.mean(smm[..., 1] >= 0):.0%} of cells do) |")
    print(f"| grid, d = 1, every cell all steps | {num} x {num} x {steps} | {t_all:.2f} | "
          f"{cells * steps / t_all / 1e6:.0f} M cell-steps/s |")
    print(f"| grid, d = 2 | {num // 4} x {num // 4} x {steps} | {t2:.2f} | "
          f"{(num // 4) ** 2 * steps / t2 / 1e6:.1f} M cell-steps/s |")
    print(f"| loop of kg.smm.run, d = 1 | 200 x {steps} | {per_cell * 200:.2f} | "
          f"{per_cell * 1e3:.1f} ms per cell; grid speed-up {per_cell * cells / t1:.0f}x |")


if __name__ == "__main__":
    main()
