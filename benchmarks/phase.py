"""Speed of phase diagrams (issue 3): closed forms, batched simulation, and the loop it replaces.

Run with ``python benchmarks/phase.py`` (about a minute on 2 cores). Prints a table:

- ``theory``: a 1000 x 1000 ``(sigma, lam)`` grid of the isolated closed forms;
- ``linearize``: a 200 x 200 grid of the general Jacobian of ``scenarios/overlap.toml``;
- ``simulate``: a 64 x 64 grid of one-point isolated problems, 1000 exact steps each,
  started at ``(f*, Y* + e0)``, with the dominant eigenvalue measured from every run
  (``kg.phase_diagram(method="simulate")``, chunks of 512 cells), on one thread and on
  two (``workers=2``: chunks in parallel threads; the dataset is the same);
- ``loop``: the same work cell by cell, ``kg.simulate`` + ``Trajectory.measure`` on an
  8 x 8 subgrid of the same grid (every 8th value of each axis), extrapolated per cell;
  the speed-up is the ratio of the per-cell times, both measured in this run.

Grid: ``sigma`` in [0.01, 1] and ``lam`` in [0.01, 10], log-spaced, ``eta_d = eta_g = 0.01``,
``p = 1``, ``q = 0.8`` (the authors' heat maps, theory section 7), history truncation
``1e-12`` for both the batch and the loop.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import kernelgda as kg
from kernelgda.check import E0_SCALE
from kernelgda.phase import HISTORY_TOL
from kernelgda.status import Status

FIXED = {"eta_d": 0.01, "eta_g": 0.01, "p": 1.0, "q": 0.8}


def grid(num):
    return {"sigma": np.geomspace(0.01, 1.0, num), "lam": np.geomspace(0.01, 10.0, num)}


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def loop_cells(axes, num_steps):
    """``kg.simulate`` + measurement cell by cell, as a user would without simulate_batch."""
    direction = np.random.default_rng(0).standard_normal((1, 1))
    direction /= np.linalg.norm(direction)
    for sigma in axes["sigma"]:
        for lam in axes["lam"]:
            if lam == 0:
                continue
            gan = kg.KernelGAN([[0.0]], FIXED["p"], kg.Gaussian(sigma=sigma), lam=lam)
            eq = kg.find_equilibrium(gan, [[0.0]], FIXED["q"])
            gda = kg.GDA(FIXED["eta_d"], FIXED["eta_g"])
            traj = kg.simulate(gan, gda, eq.y + E0_SCALE * sigma * direction, FIXED["q"], num_steps,
                               start=eq, history_tol=HISTORY_TOL)
            traj.measure(eq.y)


def main():
    rows = []
    t, ds = timed(lambda: kg.phase_diagram(grid(1000), FIXED), repeat=3)
    rows.append(("theory 1000 x 1000", ds.regime.size, t, ""))

    overlap = Path(__file__).resolve().parent.parent / "scenarios" / "overlap.toml"
    if overlap.exists():
        from kernelgda.scenario import load_scenario

        sc = load_scenario(overlap)
        axes = {"sigma": np.geomspace(0.05, 1.0, 200), "lam": np.geomspace(0.01, 10.0, 200)}
        t, ds = timed(lambda: kg.phase_diagram(axes, method="linearize", scenario=sc))
        rows.append(("linearize 200 x 200 (overlap.toml)", ds.regime.size, t, ""))

    num_steps = 1000
    t_batch, ds = timed(lambda: kg.phase_diagram(grid(64), FIXED, method="simulate", num_steps=num_steps,
                                                 workers=1))
    res = kg.compare(ds)
    rows.append((f"simulate 64 x 64, {num_steps} steps, 1 thread", ds.regime.size, t_batch,
                 f"agree away {res.agree_away:.4f} ({res.num_away} cells), "
                 f"max rate error {res.rate_error_max:.1e}"))
    t_two, ds_two = timed(lambda: kg.phase_diagram(grid(64), FIXED, method="simulate", num_steps=num_steps,
                                                   workers=2))
    rows.append((f"simulate 64 x 64, {num_steps} steps, 2 threads", ds.regime.size, t_two,
                 "same dataset" if ds_two.identical(ds) else "DATASET DIFFERS"))
    small = {k: v[::8] for k, v in grid(64).items()}
    t_loop, _ = timed(lambda: loop_cells(small, num_steps))
    num_small = small["sigma"].size * small["lam"].size
    per_cell_loop = t_loop / num_small
    per_cell_batch = t_batch / ds.regime.size
    rows.append((f"loop kg.simulate 8 x 8, {num_steps} steps", num_small, t_loop,
                 f"extrapolated to 64 x 64: {per_cell_loop * ds.regime.size:.1f} s"))

    print(f"{'case':<40} {'cells':>8} {'seconds':>9} {'ms/cell':>9}  notes")
    for name, cells, secs, note in rows:
        print(f"{name:<40} {cells:>8} {secs:>9.3f} {1e3 * secs / cells:>9.4f}  {note}")
    print(f"speed-up of the batched simulation over the loop (per cell): "
          f"{per_cell_loop / per_cell_batch:.1f}x on 1 thread, "
          f"{per_cell_loop / (t_two / ds.regime.size):.1f}x on 2 threads")
    status = {s.label: int((ds.status.values == s.code).sum()) for s in Status if s.code <= 2}
    print(f"simulated cells: {status}; largest truncation bound {np.nanmax(ds.truncation_bound.values):.2e}")


if __name__ == "__main__":
    main()
