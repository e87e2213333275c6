"""Exact simulation against the straightforward implementation (issue 2; issue 5 item 1).

``kg.simulate`` for n = m = 50, d = 2, T = 2000 (alternating, full history),
against a straightforward implementation that rebuilds the whole kernel
expansion from the unrolled form of theory section 2 and evaluates its gradient
by broadcasting over an ``(n, M, d)`` array at every step, in the same process.

The straightforward run costs minutes (about 5e9 pair evaluations at ~35 ns
each), so by default it is *sampled*: a dozen of its steps, spread over the run,
are executed on the history of the fast run and timed (best of two); since each
step rebuilds everything, its cost is ``alpha + beta k`` and the total is the
sum of the fitted line over all steps (the fit is printed). ``--full-baseline``
runs it whole instead (on 2026-11-29: 176 s whole, against 170-180 s
estimated). Every sampled step also checks that the straightforward update
reproduces the fast trajectory.

Run: ``python -m benchmarks.simulate [--full-baseline] [--steps T]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import best_time, exact_pairs, machine, standard_problem


def straightforward_grad(x, p, q, history, k, sigma, lam, eta_d, y):
    """``grad f^{k+1}(y)`` rebuilt from scratch (theory section 2, unrolled (D), ``f^0 = 0``).

    ``f^{k+1} = c K(., X) p - sum_{s<=k} eta_d (1 - eta_d lam)^(k-s) K(., Y^s) q`` with
    ``c = (1 - (1 - eta_d lam)^(k+1)) / lam``; Gaussian gradient ``-(y - z) K / sigma^2``.
    """
    decay = 1.0 - eta_d * lam
    c = (1.0 - decay ** (k + 1)) / lam if lam > 0 else eta_d * (k + 1)
    centres = np.concatenate([x, *history[:k + 1]])
    coefs = np.concatenate([c * p] + [-eta_d * decay ** (k - s) * q for s in range(k + 1)])
    r = y[:, None, :] - centres[None, :, :]
    kv = np.exp(-(r**2).sum(axis=-1) / (2.0 * sigma**2))
    return -((kv * coefs)[:, :, None] * r).sum(axis=1) / sigma**2


def straightforward_simulate(gan, gda, y0, q, num_steps):
    """Alternating GDA re-evaluating the whole expansion by broadcasting at every step."""
    y = np.array(y0, dtype=float)
    history = [y]
    for k in range(num_steps):
        g = straightforward_grad(gan.x_true, gan.p_true, q, history, k, gan.kernel.sigma, gan.lam,
                                 gda.eta_d, y)
        y = y + gda.eta_g * q[:, None] * g
        history.append(y)
    return np.array(history)


def run(num_steps: int = 2000, *, full_baseline: bool = False, repeats: int = 3,
        num_samples: int = 12) -> dict:
    """Time the fast path and the straightforward one; returns the numbers of item 1."""
    import kernelgda as kg

    gan, gda, y0, q = standard_problem()
    n, m = len(q), gan.m
    fast_s, traj = best_time(lambda: kg.simulate(gan, gda, y0, q, num_steps), repeats)
    assert traj.status.ok, traj.message
    pairs = exact_pairs(n, m, num_steps)
    out = {"num_steps": num_steps, "fast_s": fast_s, "pairs": pairs, "pairs_per_s": pairs / fast_s,
           "trajectory": traj}
    if full_baseline:
        t0 = time.perf_counter()
        ref = straightforward_simulate(gan, gda, y0, q, num_steps)
        out["base_s"] = time.perf_counter() - t0
        out["base_kind"] = "full run"
        out["agreement"] = float(np.abs(ref - traj.y).max())
    else:
        history = list(traj.y)
        steps = np.unique(np.linspace(0, num_steps - 1, num_samples).astype(int))
        times, dev = [], 0.0
        for k in steps:
            # Twice, keeping the faster: a first call at a new size pays page faults for its
            # large temporaries that the steps of a whole run share with their neighbours.
            t, g = best_time(lambda k=k: straightforward_grad(
                gan.x_true, gan.p_true, q, history, int(k), gan.kernel.sigma, gan.lam, gda.eta_d,
                history[k]), 2)
            y_next = history[k] + gda.eta_g * q[:, None] * g
            times.append(t)
            dev = max(dev, float(np.abs(y_next - traj.y[k + 1]).max()))
        beta, alpha = np.polyfit(steps, times, 1)
        out["base_s"] = num_steps * alpha + beta * num_steps * (num_steps - 1) / 2
        out["base_kind"] = (f"sum of alpha + beta k fitted to {len(steps)} timed steps "
                            f"(alpha {alpha * 1e3:.2f} ms, beta {beta * 1e6:.2f} us)")
        out["agreement"] = dev
    out["ratio"] = out["base_s"] / fast_s
    out["base_ns_per_pair"] = out["base_s"] / pairs * 1e9
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--full-baseline", action="store_true",
                        help="run the straightforward implementation whole (minutes)")
    args = parser.parse_args(argv)
    print(time.strftime("%Y-%m-%d %H:%M"), "|", machine())
    r = run(args.steps, full_baseline=args.full_baseline)
    print(f"kg.simulate n=m=50 d=2 T={args.steps} alternating, full history: {r['fast_s']:.2f} s, "
          f"{r['pairs_per_s']:.3g} pair evaluations/s")
    print(f"straightforward (broadcast, rebuild each step): {r['base_s']:.1f} s [{r['base_kind']}], "
          f"{r['base_ns_per_pair']:.1f} ns/pair; max |dy| vs fast path {r['agreement']:.1e}")
    print(f"ratio: {r['ratio']:.1f}x faster")


if __name__ == "__main__":
    main()
