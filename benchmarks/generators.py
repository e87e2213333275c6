"""Parametric generators (issue 17): an MLP generator's run against the point generator's.

``python -m benchmarks.generators``: ``n = m = 200``, ``d = 2``, an MLP with about 1e4
parameters (latent dimension 4, hidden widths (96, 96), tanh), ``T = 1000`` alternating steps,
the exact discriminator with its full history. Both runs in the same process, alternately, best
of ``repeats``; the ratio is what counts (machines here are noisy). Nothing is asserted.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def run(num_steps: int = 1000, n: int = 200, repeats: int = 2, history_tol=None) -> dict:
    import kernelgda as kg
    from kernelgda.generators import MLP

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2))
    gan = kg.KernelGAN(x, 1.0 / n, kg.Gaussian(0.5), lam=0.5)
    gda = kg.GDA(0.1, 0.05)
    gen = MLP(rng.standard_normal((n, 4)), 2, (96, 96), "tanh", seed=1)
    y0 = gen.points(gen.theta)
    times = {"points": [], "mlp": []}
    for _ in range(repeats):
        for name, start in (("points", y0), ("mlp", gen)):
            t = time.perf_counter()
            kg.simulate(gan, gda, start, 1.0 / n, num_steps, history_tol=history_tol, record_every=10)
            times[name].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    return {"num_params": gen.num_params, "points_s": best["points"], "mlp_s": best["mlp"],
            "ratio": best["mlp"] / best["points"]}


def main(argv=None) -> None:
    quick = "--quick" in (sys.argv[1:] if argv is None else argv)
    steps = 200 if quick else 1000
    for tol in (None, 1e-8):
        r = run(num_steps=steps, repeats=1 if quick else 2, history_tol=tol)
        print(f"MLP generator ({r['num_params']} parameters) vs points, n = m = 200, d = 2, T = {steps}, "
              f"history_tol = {tol}: points {r['points_s']:.2f} s, MLP {r['mlp_s']:.2f} s, "
              f"ratio {r['ratio']:.2f}")


if __name__ == "__main__":
    main()
