"""Network discriminator against the exact kernel discriminator: cost per step (issue 18).

The benchmark game of :func:`benchmarks.standard_problem` (``n = m = 50``, ``d = 2``, alternating,
``T = 1000``) with three discriminators, timed in the same process:

- ``kg.NetworkDiscriminator(width=4096)`` (two-layer erf network in parameter space,
  ``O(width (m + n) d)`` per step, no history), with and without the kernel movement recorded
  at every 10th step (two ``(m + n)^2 width`` products per recorded row);
- the exact kernel expansion with the Gaussian kernel (the library's fast path);
- the exact kernel expansion with the network's analytic NTK (``kg.NTK("erf")``, the generic
  kernel path), with history truncation ``history_tol = 1e-10``.

The network and the kernel GANs are different games (different kernels), so only costs are
compared; ratios are against the network run measured in the same process.

Run: ``python -m benchmarks.network [--steps T] [--width H]``.
"""

from __future__ import annotations

import argparse

from . import best_time, machine, standard_problem


def run(num_steps: int = 1000, width: int = 4096, repeats: int = 1) -> dict:
    """Seconds per step of each discriminator (module docstring)."""
    import kernelgda as kg

    gan, gda, y0, q = standard_problem()
    net = kg.NetworkDiscriminator(width=width, activation="erf", sigma_w=1.0, sigma_b=0.5, seed=0,
                                  track_movement=False)
    moving = kg.NetworkDiscriminator(width=width, activation="erf", sigma_w=1.0, sigma_b=0.5, seed=0)
    ntk_gan = gan.with_kernel(kg.NTK("erf", 1.0, 0.5))
    cases = {
        "network": lambda: kg.simulate(gan, gda, y0, q, num_steps, discriminator=net),
        "network + kernel movement every 10th step": lambda: kg.simulate(
            gan, gda, y0, q, num_steps, discriminator=moving, record_every=10),
        "exact expansion, Gaussian": lambda: kg.simulate(gan, gda, y0, q, num_steps),
        "exact expansion, analytic NTK (history_tol 1e-10)": lambda: kg.simulate(
            ntk_gan, gda, y0, q, num_steps, history_tol=1e-10),
    }
    out = {}
    for name, fn in cases.items():
        secs, traj = best_time(fn, repeats)
        assert traj.status.ok, traj.message
        out[name] = secs / num_steps
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.network", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--width", type=int, default=4096)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    res = run(args.steps, args.width)
    base = res["network"]
    print(f"n = m = 50, d = 2, T = {args.steps}, width {args.width}")
    print("| discriminator | ms per step | ratio to the network |\n|---|---:|---:|")
    for name, secs in res.items():
        print(f"| {name} | {1e3 * secs:.3f} | {secs / base:.2f} |")


if __name__ == "__main__":
    main()
