"""Timing scripts for kernelgda (issue 5): ratios against baselines measured in the same run.

Run ``python -m benchmarks`` from the repository root for the full table, or one
script alone (``python -m benchmarks.simulate``). Timings are the best of a few
repeats: the machine may be shared, and the best run is the one least disturbed.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def best_time(fn, repeats: int = 3):
    """Smallest wall time of ``repeats`` calls of ``fn()`` and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def machine() -> str:
    """One line: CPU model, usable cores, NumPy and BLAS."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = "unknown BLAS"
    try:
        from threadpoolctl import threadpool_info
        libs = [f"{i['internal_api']} {i.get('version') or ''} ({i.get('architecture') or '?'})".strip()
                for i in threadpool_info() if i["user_api"] == "blas"]
        blas = ", ".join(dict.fromkeys(libs)) or blas
    except ImportError:
        pass
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                   if k in os.environ)
    return (f"{model}, {cores} cores, Python {platform.python_version()}, NumPy {np.__version__}, "
            f"{blas}" + (f", {env}" if env else ""))


def standard_problem(n: int = 50, m: int = 50, d: int = 2, *, lam: float = 0.5, seed: int = 0):
    """The benchmark game: ``m`` true points ~ N(0, I_d), weights 1, Gaussian ``sigma = 0.5 sqrt(d/2)``.

    Generated points start at the true points plus noise of 0.1 (per coordinate);
    with ``eta_d = 0.1``, ``eta_g = 0.01`` (alternating) the run converges slowly.
    Returns ``(gan, gda, y0, q)``.
    """
    import kernelgda as kg

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, d))
    gan = kg.KernelGAN(x, 1.0, kg.Gaussian(0.5 * np.sqrt(d / 2)), lam=lam)
    y0 = x[np.arange(n) % m] + 0.1 * rng.normal(size=(n, d))
    return gan, kg.GDA(eta_d=0.1, eta_g=0.01, mode="alternating"), y0, np.ones(n)


def exact_pairs(n: int, m: int, num_steps: int, mode: str = "alternating") -> int:
    """Pair evaluations of a full-history run: ``sum_k n (m + k' n)``, ``k' = k + 1`` if alternating."""
    k = np.arange(num_steps) + (1 if mode == "alternating" else 0)
    return int((n * (m + k * n)).sum())
