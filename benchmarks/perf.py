"""Issue 5 benchmarks beyond item 1: machine floor, truncation and random features,
batched sweeps, scaling with fitted exponents, large problems.

Each function returns rows ``(item, case, seconds, result)`` for the table printed by
``python -m benchmarks``; nothing here is a test (speed is never asserted).
"""

from __future__ import annotations

import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import best_time, exact_pairs, standard_problem

# -- item 2: the machine's floor --------------------------------------------------------------


def floor(rows: int = 50, cols: int = 400_000, d: int = 2, repeats: int = 5) -> dict:
    """Pair evaluations per second of the best kernel-sum kernel for one large block.

    The work per pair is that of the exact path: one exponent (a product of augmented
    rows), one ``exp``, and the reduction against ``[w, w z]``. Candidates:

    - ``big``: one large matrix product for the exponents, one large ``exp`` (NumPy's
      SIMD exp, one core), one matrix product for the reduction (threaded BLAS);
    - ``big, exp on all cores``: the same with the ``exp`` split over threads by rows;
    - ``numexpr``: the same with ``numexpr.evaluate("exp(S)")`` on all cores;
    - ``blocked``: cache-sized blocks split over all cores (the library's kernel sum);
    - ``blocked, 1 core``: the same on one thread, for the per-core rate.

    Returns ``{"best": (name, pairs/s), name: pairs/s, ...}``.
    """
    import kernelgda as kg
    from kernelgda.discriminator import augment_centres, coef_columns, kernel_grad_sum

    rng = np.random.default_rng(1)
    kernel = kg.Gaussian(0.5)
    y = rng.normal(size=(rows, d))
    z = rng.normal(size=(cols, d))
    w = rng.normal(size=cols)
    zaug, coef = augment_centres(kernel, z), coef_columns(z, w)
    yaug = np.hstack([y / kernel.sigma**2, np.ones((rows, 1)),
                      -(y * y).sum(1, keepdims=True) / (2 * kernel.sigma**2)])
    big = np.empty((rows, cols))
    pairs = rows * cols
    threads = ThreadPoolExecutor(max_workers=4)

    def finish(acc):
        return (acc[:, 1:] - acc[:, :1] * y) / kernel.sigma**2

    def unblocked():
        np.dot(yaug, zaug.T, out=big)
        np.exp(big, out=big)
        return finish(np.dot(big, coef.T))

    def unblocked_split():
        np.dot(yaug, zaug.T, out=big)
        half = rows // 2
        fut = threads.submit(np.exp, big[:half], out=big[:half])
        np.exp(big[half:], out=big[half:])
        fut.result()
        return finish(np.dot(big, coef.T))

    def with_numexpr():
        import numexpr as ne
        np.dot(yaug, zaug.T, out=big)
        ne.evaluate("exp(big)", out=big)
        return finish(np.dot(big, coef.T))

    segs = [(zaug, coef, 1.0)]
    cands = {"big (1 exp, 2 products)": unblocked, "big, exp on all cores": unblocked_split,
             "numexpr exp on all cores": with_numexpr,
             "blocked, all cores": lambda: kernel_grad_sum(kernel, y, segs),
             "blocked, 1 core": lambda: kernel_grad_sum(kernel, y, segs, num_threads=1)}
    best = {name: float("inf") for name in cands}
    for _ in range(repeats):  # interleaved, so that a disturbance hits every candidate alike
        for name, fn in cands.items():
            try:
                t, _ = best_time(fn, 1)
            except ImportError:
                continue
            best[name] = min(best[name], t)
    threads.shutdown()
    rates = {name: pairs / t for name, t in best.items() if np.isfinite(t)}
    top = max((k for k in rates if "1 core" not in k), key=rates.get)
    return {"best": (top, rates[top]), **rates}


# -- item 3: truncation and random features ---------------------------------------------------


def truncation_and_features(exact_traj=None, num_steps: int = 2000, tols=(1e-4, 1e-8),
                            dims=(1024, 16384)) -> list:
    """Time and max deviation from the exact trajectory of truncated and random-feature runs."""
    import kernelgda as kg

    gan, gda, y0, q = standard_problem()
    if exact_traj is None:
        exact_traj = kg.simulate(gan, gda, y0, q, num_steps)
    rows = []
    for tol in tols:
        t, tr = best_time(lambda tol=tol: kg.simulate(gan, gda, y0, q, num_steps, history_tol=tol), 1)
        dev = np.abs(tr.y - exact_traj.y).max()
        rows.append((3, f"truncated, history_tol={tol:g} (eta_d lam = 0.05)", t,
                     f"max |dy| {dev:.1e} (sigma {gan.kernel.sigma}); {tr.num_slices} of {num_steps} "
                     f"slices kept; certified grad bound {tr.truncation_bound:.1e}"))
    for num in dims:
        spec = kg.RandomFeatures(num_features=num, seed=0)
        t, tr = best_time(lambda spec=spec: kg.simulate(gan, gda, y0, q, num_steps, discriminator=spec), 1)
        dev = np.abs(tr.y - exact_traj.y).max()
        rows.append((3, f"random features, D={num}", t, f"max |dy| {dev:.1e} (sigma {gan.kernel.sigma})"))
    return rows


# -- item 4: batched sweep --------------------------------------------------------------------


def batched_sweep(grid: int = 64, num_steps: int = 1000, loop_cells: int = 64) -> list:
    """Cells/s of ``simulate_batch`` on the phase-diagram grid against looping ``kg.simulate``.

    The grid of issue 3: one generated point on one true point (isolated points model),
    ``sigma`` in geomspace(0.01, 1), ``lam`` in geomspace(0.01, 10), ``eta_d = eta_g = 0.01``,
    ``p = 1``, ``q = 0.8``, alternating, started at ``(f*, Y* + e0)`` with ``|e0| = 1e-6 sigma``,
    history truncated as ``kg.phase_diagram`` does.
    """
    import kernelgda as kg
    try:
        from kernelgda.batch import simulate_batch
        from kernelgda.phase import HISTORY_TOL
    except ImportError:
        return [(4, "batched sweep", float("nan"), "pending: kernelgda.batch is not available")]

    sig, lam = np.meshgrid(np.geomspace(0.01, 1, grid), np.geomspace(0.01, 10, grid), indexing="ij")
    sig, lam = sig.ravel(), lam.ravel()
    gans = [kg.KernelGAN(np.zeros((1, 1)), 1.0, kg.Gaussian(s), lam=lm)
            for s, lm in zip(sig, lam, strict=True)]
    gda = kg.GDA(0.01, 0.01, mode="alternating")
    eqs = [kg.Equilibrium(y=np.zeros((1, 1)), q=np.array([0.8]), residual=0.0, iterations=0,
                          converged=True, message="isolated") for _ in gans]
    y0 = (1e-6 * sig)[:, None, None] * np.ones((1, 1))
    t_batch, runs = best_time(lambda: simulate_batch(gans, gda, y0, np.full((len(gans), 1), 0.8),
                                                      num_steps, start=eqs, history_tol=HISTORY_TOL), 1)
    picks = np.linspace(0, len(gans) - 1, loop_cells).astype(int)  # spread over the whole grid
    t0 = time.perf_counter()
    loops = [kg.simulate(gans[i], gda, y0[i], 0.8, num_steps, start=eqs[i], history_tol=HISTORY_TOL)
             for i in picks]
    t_loop = (time.perf_counter() - t0) / len(picks) * len(gans)
    # Agreement on the cells that stay in the linear regime (|y - y*| <= 1e-3 sigma); cells that
    # leave it are unstable, and rounding differences grow there like the perturbation itself.
    dev, linear = 0.0, 0
    for i, tr in zip(picks, loops, strict=True):
        if np.abs(tr.y).max() <= 1e-3 * sig[i] and tr.y.shape[0] == num_steps + 1:
            linear += 1
            dev = max(dev, float(np.abs(tr.y - runs.y[i]).max() / (1e-6 * sig[i])))
    rate_b, rate_l = len(gans) / t_batch, len(gans) / t_loop
    return [(4, f"simulate_batch, {grid}x{grid} one-point grid, T={num_steps}", t_batch,
             f"{rate_b:.0f} cells/s"),
            (4, f"loop of kg.simulate ({len(picks)} cells timed, scaled to {len(gans)})", t_loop,
             f"{rate_l:.0f} cells/s; batched/loop {rate_b / rate_l:.1f}x; max |dy|/|e0| batch vs "
             f"loop {dev:.0e} over the {linear} timed cells that stay linear")]


# -- item 5: scaling --------------------------------------------------------------------------


def _slope(xs, ts):
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def scaling(steps=(100, 300, 1000, 3000, 10000), sizes=(10, 30, 100, 300, 1000),
            n_for_steps: int = 20, steps_for_n: int = 100) -> list:
    """Time against ``T`` (full history and truncated) and against ``n = m``, with fitted exponents."""
    import kernelgda as kg

    rows = []
    gan, gda, y0, q = standard_problem(n_for_steps, n_for_steps)
    for label, kw in (("full history", {}), ("history_tol=1e-8", {"history_tol": 1e-8})):
        ts = [best_time(lambda T=T, kw=kw: kg.simulate(gan, gda, y0, q, T, **kw), 1)[0] for T in steps]
        tail = [i for i, T in enumerate(steps) if T >= 1000]
        rows.append((5, f"time vs T, n=m={n_for_steps}, {label}", sum(ts),
                     "T=" + ",".join(str(T) for T in steps) + ": "
                     + ", ".join(f"{t:.3g}" for t in ts) + " s; exponent "
                     f"{_slope(steps, ts):.2f} (all), {_slope(np.take(steps, tail), np.take(ts, tail)):.2f} "
                     "(T >= 1000)"))
    for label, kw in (("exact, full history", {}),
                      ("random features D=1024", {"discriminator": kg.RandomFeatures(1024)})):
        ts = []
        for n in sizes:
            prob = standard_problem(n, n)
            ts.append(best_time(lambda prob=prob, kw=kw: kg.simulate(*prob, steps_for_n, **kw), 1)[0])
        tail = [i for i, n in enumerate(sizes) if n >= 100]
        rows.append((5, f"time vs n=m, T={steps_for_n}, {label}", sum(ts),
                     "n=" + ",".join(str(n) for n in sizes) + ": " + ", ".join(f"{t:.3g}" for t in ts)
                     + f" s; exponent {_slope(sizes, ts):.2f} (all), "
                     f"{_slope(np.take(sizes, tail), np.take(ts, tail)):.2f} (n >= 100)"))
    return rows


# -- large problems ---------------------------------------------------------------------------


def _tracked(fn):
    """``(seconds, result, peak traced bytes)`` of ``fn()`` (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        t, out = best_time(fn, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return t, out, peak


def large(num_steps: int = 1000, num_features: int = 2048, history_tol: float = 1e-6) -> list:
    """n = m = 1000, d = 64 with random features; n = m = 200, d = 64 exact with truncation."""
    import kernelgda as kg

    rows = []
    gan, gda, y0, q = standard_problem(1000, 1000, 64)
    spec = kg.RandomFeatures(num_features=num_features, seed=0)
    t, tr, peak = _tracked(lambda: kg.simulate(gan, gda, y0, q, num_steps, discriminator=spec))
    rows.append(("L", f"n=m=1000, d=64, random features D={num_features}, T={num_steps}", t,
                 f"{tr.status}; peak memory {peak / 2**20:.0f} MiB, of which the trajectory "
                 f"{tr.y.nbytes / 2**20:.0f} MiB"))
    gan, gda, y0, q = standard_problem(200, 200, 64)
    t, tr, peak = _tracked(lambda: kg.simulate(gan, gda, y0, q, num_steps, history_tol=history_tol))
    pairs = 200 * (200 + tr.num_slices * 200)
    rows.append(("L", f"n=m=200, d=64, exact, history_tol={history_tol:g}, eta_d lam=0.05, "
                 f"T={num_steps}", t,
                 f"{tr.status}; {tr.num_slices} slices kept (~{pairs:.2g} pairs/step); certified "
                 f"grad bound {tr.truncation_bound:.1e}; peak memory {peak / 2**20:.0f} MiB "
                 f"(trajectory {tr.y.nbytes / 2**20:.0f} MiB)"))
    return rows


def exact_rows(item1: dict, fl: dict) -> list:
    """Rows of items 1 and 2 from :func:`benchmarks.simulate.run` and :func:`floor`."""
    n_steps = item1["num_steps"]
    rows = [(1, f"kg.simulate n=m=50 d=2 T={n_steps} alternating, full history", item1["fast_s"],
             f"{item1['pairs_per_s']:.3g} pairs/s; {item1['ratio']:.1f}x the straightforward "
             f"implementation ({item1['base_s']:.0f} s, {item1['base_kind']}; max |dy| "
             f"{item1['agreement']:.0e})")]
    name, rate = fl["best"]
    others = "; ".join(f"{k} {v:.3g}" for k, v in fl.items() if k != "best")
    rows.append((2, "machine floor: one block of 50 x 400000 pairs, d=2", float("nan"),
                 f"best {rate:.3g} pairs/s ({name}); exact path = {item1['pairs_per_s'] / rate:.2f} "
                 f"of it [{others}]"))
    return rows


__all__ = ["batched_sweep", "exact_pairs", "exact_rows", "floor", "large", "scaling",
           "truncation_and_features"]
