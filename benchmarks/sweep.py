"""Speed of sweeps as Dask tasks (issue 13): embedded scheduler, and 2 vs 1 cluster workers.

``python -m benchmarks.sweep`` prints one table, every ratio measured within this run:

- ``embedded``: the 64 x 64 x 1000 simulated sweep of ``benchmarks/phase.py``
  (``kg.phase_diagram(method="simulate")``, default chunks and threads), best of
  ``--repeat``. With ``--before SRC`` (the ``src`` folder of an older checkout) the same
  call is timed in a subprocess importing that tree, alternating with this one, and the
  ratio is reported.
- ``cluster``: a ``LocalCluster`` of 1 worker process, then of 2 (1 thread each, each
  process pinned to its own core), on the
  same simulated sweep of ``--cells`` cells, ``--steps`` steps, in chunks of ``--chunk``;
  parallel efficiency = (t1 / t2) / 2. On a machine shared with other jobs the workers do
  not get a core each, so the 2-worker run also reports its *busy fraction*: the summed
  compute time of its tasks (the scheduler's task stream) over 2 x its wall time, i.e. how
  much of the workers' time the scheduling kept them computing, whatever the CPU load, and
  the workers' CPU seconds in both runs; busy fraction x (CPU 1 worker / CPU 2 workers) is
  the efficiency the 2 workers would reach with a free core each (idle time and any extra
  work from sharing caches or memory bandwidth counted, other jobs' load not).
- ``overhead``: per-task overhead of a cluster run, from ``--tasks`` one-cell theory blocks
  (whose compute time is microseconds) on the 2-worker cluster: wall time / tasks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

FIXED = {"eta_d": 0.01, "eta_g": 0.01, "p": 1.0, "q": 0.8}
EMBEDDED = ("import time, numpy as np, kernelgda as kg; "
            "axes = {'sigma': np.geomspace(0.01, 1.0, 64), 'lam': np.geomspace(0.01, 10.0, 64)}; "
            f"t = time.perf_counter(); kg.phase_diagram(axes, {FIXED!r}, method='simulate', num_steps=1000); "
            "print(time.perf_counter() - t)")


def _embedded(src):
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([sys.executable, "-c", EMBEDDED], env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _grid(cells):
    side = int(round(np.sqrt(cells)))
    return {"sigma": np.geomspace(0.01, 1.0, side), "lam": np.geomspace(0.01, 10.0, side)}


def _pin_process(core):
    """Pin every thread of this process (and so the threads it starts) to ``core``."""
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), {core})


def _on_cluster(workers, fn):
    """``fn(client)`` on a LocalCluster of ``workers`` single-threaded processes, each pinned to
    its own core: a worker then sees one CPU, so the intra-step kernel-sum threads
    (kernelgda.discriminator) stay off and "1 worker" means one core."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(lambda: __import__("kernelgda"))  # imports out of the timing
        if hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task"):
            for i, addr in enumerate(sorted(client.scheduler_info()["workers"])):
                client.run(_pin_process, i % (os.cpu_count() or 1), workers=[addr])
        return fn(client)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="SRC", help="src folder of the checkout to compare with")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--cells", type=int, default=96 * 96)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args(argv)
    import kernelgda as kg

    here = os.path.dirname(os.path.dirname(kg.__file__))
    rows = []
    if not args.skip_embedded:
        now, before = [], []
        for _ in range(args.repeat):
            now.append(_embedded(here))
            if args.before:
                before.append(_embedded(args.before))
        note = f"before {min(before):.2f} s, ratio now/before {min(now) / min(before):.3f}" if before else ""
        rows.append(("embedded 64 x 64 x 1000 (2 threads)", min(now), note))

    def sweep(client):
        from distributed import get_task_stream

        with get_task_stream(client) as stream:
            cpu0 = client.run(time.process_time)
            start = time.perf_counter()
            ds = kg.phase_diagram(_grid(args.cells), FIXED, method="simulate", num_steps=args.steps,
                                  chunk_size=args.chunk, client=client)
            wall = time.perf_counter() - start
            cpu1 = client.run(time.process_time)
        busy = sum(ss["stop"] - ss["start"] for task in stream.data for ss in task["startstops"]
                   if ss["action"] == "compute")
        return wall, ds, busy, sum(cpu1[a] - cpu0[a] for a in cpu0)

    t1, ds1, _, cpu_1 = _on_cluster(1, sweep)
    t2, ds2, busy2, cpu_2 = _on_cluster(2, sweep)
    cells = ds1.regime.size
    frac = busy2 / (2 * t2)
    rows.append((f"cluster 1 worker, {cells} cells x {args.steps} steps", t1, f"worker CPU {cpu_1:.1f} s"))
    rows.append(("cluster 2 workers, same sweep", t2,
                 f"speed-up {t1 / t2:.2f}, efficiency {t1 / t2 / 2:.2f}; worker CPU {cpu_2:.1f} s; busy "
                 f"fraction {frac:.3f}; busy x CPU ratio {frac * cpu_1 / cpu_2:.3f}; "
                 f"{'same dataset' if ds1.identical(ds2) else 'DATASET DIFFERS'}"))

    def overhead(client):
        axes = {"sigma": np.geomspace(0.1, 1.0, args.tasks), "lam": [0.5]}
        start = time.perf_counter()
        kg.phase_diagram(axes, {"eta_d": 0.1, "eta_g": 0.1}, chunk_size=1, client=client)
        return time.perf_counter() - start

    t_over = _on_cluster(2, overhead)
    rows.append((f"cluster overhead, {args.tasks} one-cell tasks", t_over,
                 f"{1e3 * t_over / args.tasks:.2f} ms per task"))
    print(f"{'case':<48} {'seconds':>9}  notes")
    for name, secs, note in rows:
        print(f"{name:<48} {secs:>9.2f}  {note}")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
