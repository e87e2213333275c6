"""``python -m benchmarks``: every issue-5 benchmark in one run, printed as one Markdown table.

Items: 1 exact simulation vs the straightforward implementation; 2 the machine's
floor; 3 truncation and random features vs the exact trajectory; 4 batched sweep
vs looping single runs; 5 scaling with fitted exponents; L large problems.
``--quick`` shrinks every problem (a smoke run of well under a minute).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from . import machine, perf, simulate


def _table(rows) -> str:
    lines = ["| item | case | time (s) | result |", "|---|---|---:|---|"]
    for item, case, secs, result in rows:
        t = "" if secs is None or (isinstance(secs, float) and math.isnan(secs)) else f"{secs:.2f}"
        lines.append(f"| {item} | {case} | {t} | {result} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small problems (smoke run)")
    parser.add_argument("--full-baseline", action="store_true",
                        help="run the straightforward implementation of item 1 whole (minutes)")
    parser.add_argument("--skip-large", action="store_true", help="skip the large problems")
    args = parser.parse_args(argv)
    q = args.quick
    start = time.perf_counter()
    print(f"kernelgda benchmarks, {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    print(f"machine: {machine()}", flush=True)
    rows = []

    def step(label, fn, item=None):
        """Run one item; an item that fails becomes a table row saying so (with ``item``)."""
        t0 = time.perf_counter()
        try:
            out = fn()
        except Exception as exc:
            if item is None:
                raise
            out = [(item, label, float("nan"), f"failed: {type(exc).__name__}: {exc}")]
        print(f"  [{label}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
        return out

    # The floor is measured before and after item 1 and the better is kept (a conservative
    # denominator on a shared machine).
    cols = 100_000 if q else 400_000
    fl0 = step("item 2 (before)", lambda: perf.floor(cols=cols))
    item1 = step("item 1", lambda: simulate.run(600 if q else 2000, full_baseline=args.full_baseline,
                                                repeats=2 if q else 3))
    fl1 = step("item 2 (after)", lambda: perf.floor(cols=cols))
    fl = {k: max(fl0.get(k, 0.0), fl1.get(k, 0.0)) for k in fl0 if k != "best"}
    fl["best"] = max(fl0["best"], fl1["best"], key=lambda b: b[1])
    rows += perf.exact_rows(item1, fl)
    rows += step("item 3", lambda: perf.truncation_and_features(
        item1["trajectory"], item1["num_steps"], dims=(256, 4096) if q else (1024, 16384)), 3)
    rows += step("item 4", lambda: perf.batched_sweep(16 if q else 64, 300 if q else 1000,
                                                      16 if q else 64), 4)
    rows += step("item 5", lambda: perf.scaling(
        steps=(100, 300, 1000, 3000) if q else (100, 300, 1000, 3000, 10000),
        sizes=(10, 30, 100, 300) if q else (10, 30, 100, 300, 1000)), 5)
    if not args.skip_large:
        rows += step("large", lambda: perf.large(num_steps=100 if q else 1000), "L")
    print()
    print(_table(rows))
    print(f"\ntotal benchmark time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
