"""Memory estimates and one-line refusals (kernelgda.resources), and their use by scenarios.

Every limit is passed explicitly, so no test depends on this machine's memory (except the
refusals of astronomically large requests, over any machine's memory).
"""

from __future__ import annotations

import contextlib
import io
import re
import tracemalloc

import pytest

from kernelgda import resources as R
from kernelgda.cli import main
from kernelgda.scenario import parse_scenario

GB = 10**9


@pytest.mark.parametrize(("text", "nbytes"), [
    ("4G", 4 * GB), ("512M", 512 * 10**6), ("512m", 512 * 10**6), ("1.5GB", 1_500_000_000),
    ("2GiB", 2 * 2**30), ("100k", 100_000), ("1e6", 10**6), ("123", 123), (" 8 MiB ", 8 * 2**20),
    (4096, 4096),
])
def test_parse_size(text, nbytes):
    assert R.parse_size(text) == nbytes, "decimal K/M/G/T, binary KiB/MiB/GiB/TiB, plain bytes"


@pytest.mark.parametrize("text", ["", "G", "4X", "-1G", "0", "four", "4 G B", "inf", True])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError, match="size"):
        R.parse_size(text)


def test_format_size():
    assert [R.format_size(b) for b in (80, 1500, 24 * GB, 512 * 10**6, 3.2e15)] == \
        ["80 B", "1.5 kB", "24.0 GB", "512 MB", "3200 TB"]


def test_estimators_by_hand():
    assert R.grid_bytes(10**9, 3) == 24 * GB, "1e9 cells x 3 float64"
    assert R.points_bytes(1000, 3) == 24_000
    # 100 steps, every 10th frame plus the start: 11 frames of 5 x 2 float64.
    assert R.trajectory_bytes(100, 5, 2, record_every=10) == 11 * 5 * 2 * 8
    assert R.trajectory_bytes(99, 5, 2, record_every=10) == 10 * 5 * 2 * 8
    assert R.pairwise_bytes(10, 12, 4) == 10 * 12 * 4 * 8
    with pytest.raises(ValueError, match="record_every"):
        R.trajectory_bytes(10, 1, 1, record_every=0)
    with pytest.raises(ValueError, match="n must be a whole number"):
        R.points_bytes(-1, 2)


def test_check_bytes_refuses_in_one_line_with_the_numbers():
    assert R.check_bytes(1000, "small", limit=1000) == 1000, "at the limit is allowed"
    with pytest.raises(ValueError) as exc:
        R.check_bytes(R.grid_bytes(10**9, 3), "phase grid", limit="11.5G",
                      detail="1e9 cells x 3 float64 variables", hint="use fewer cells")
    msg = str(exc.value)
    assert msg == ("phase grid: needs 24.0 GB (1e9 cells x 3 float64 variables), over the limit of "
                   "11.5 GB; use fewer cells or raise --max-memory")
    assert "\n" not in msg


def test_check_trajectory_hint_names_a_record_every_that_fits():
    limit = 10**6
    n, d, steps = 100, 2, 10_000
    with pytest.raises(ValueError, match=r"use record_every >= (\d+)") as exc:
        R.check_trajectory(steps, n, d, limit=limit)
    k = int(re.search(r"record_every >= (\d+)", str(exc.value)).group(1))
    frame = n * d * 8
    assert (steps // k + 1) * frame <= limit, "the suggested record_every fits"
    assert (steps // (k - 1) + 1) * frame > limit, "and is the smallest that does"
    R.check_trajectory(steps, n, d, record_every=k, limit=limit)  # no error
    with pytest.raises(ValueError, match="use fewer points"):
        R.check_trajectory(10, 10**6, 3, limit=10**6)


def test_check_grid_points_at_the_chunked_path_when_it_fits_on_disk(tmp_path):
    with pytest.raises(ValueError, match="chunked path"):
        R.check_grid(1000, 3, limit=1000, directory=tmp_path)  # 24 kB: fits any disk
    with pytest.raises(ValueError) as exc:
        R.check_grid(10**18, 3, limit=1000, directory=tmp_path)  # 24 EB: fits no disk
    assert "chunked" not in str(exc.value) and "use fewer cells" in str(exc.value)
    assert R.check_grid(10, 3, limit=1000, directory=tmp_path) == 240


def test_available_memory_reads_meminfo(tmp_path):
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:    1000 kB\n")
    assert R.available_memory(str(f)) == 1000 * 1024, "MemAvailable in kB"
    fallback = R.available_memory(str(tmp_path / "missing"))
    assert fallback > 0, "sysconf or the conservative fallback"
    assert 0 < R.default_limit() <= R.available_memory()


# -- scenarios: refused before any point is generated -----------------------------------------

def _scenario(generated, true=None):
    return {"true": true or {"points": [[0.0, 0.0]]}, "generated": generated, "kernel": {"sigma": 0.3},
            "gda": {"lam": 0.5, "eta_d": 0.1, "eta_g": 0.1}}


@pytest.mark.parametrize(("generated", "true", "needle"), [
    ({"kind": "ring", "num": 10_000_000}, None, "scenario fixed point"),
    ({"on_true": True, "per_point": 100_000_000}, None, r"scenario \[generated\] points"),
    ({"on_true": True, "per_point": 10_000}, None, "scenario fixed point"),
    ({"kind": "grid", "num": 1000, "dim": 3}, {"points": [[0.0, 0.0, 0.0]]},
     r"scenario \[generated\] points"),
    ({"on_true": True}, {"kind": "gaussian", "num": 10**9}, r"scenario \[true\] points"),
])
def test_scenario_generators_are_refused_before_allocating(generated, true, needle):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=needle) as exc:
            parse_scenario(_scenario(generated, true), max_memory="1G")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "\n" not in str(exc.value) and "use fewer" in str(exc.value)
    assert peak < 10 * 10**6, f"refused after allocating {peak} bytes"


def test_small_scenario_passes_an_explicit_limit():
    s = parse_scenario(_scenario({"kind": "ring", "num": 10}), max_memory="1M")
    assert s.y0.shape == (10, 2)
    with pytest.raises(ValueError, match="scenario fixed point"):
        parse_scenario(_scenario({"kind": "ring", "num": 200}), max_memory="1M")  # 200 x 201 x 4 x 8


def test_analyze_refuses_a_huge_ring_with_one_line(tmp_path):
    f = tmp_path / "ring.toml"
    f.write_text('[true]\npoints = [[0.0, 0.0]]\n[generated]\nkind = "ring"\nnum = 10000000\n'
                 '[kernel]\nsigma = 0.3\n[gda]\nlam = 0.5\neta_d = 0.1\neta_g = 0.1\n')
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["analyze", str(f)])
    assert code == 2 and out.getvalue() == ""
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "needs 3200 TB" in lines[0] and "raise --max-memory" in lines[0]
