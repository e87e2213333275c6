"""Sweeps refused before anything is allocated or written: memory estimates, bad settings,
repeated parameters, a kernel the linearization cannot take (one line, exit code 2)."""

import math
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelgda import phase_diagram
from kernelgda.cli import main
from kernelgda.linearize import require_smooth
from kernelgda.phase import plan_sweep
from kernelgda.regimes import REGIMES
from kernelgda.scenario import parse_scenario

BASE = ["phase", "--axis", "sigma=0.1:1:3", "--axis", "lam=0.1:1:3", "--set", "eta_d=0.1", "--set",
        "eta_g=0.1"]
QUICK = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _refused(capsys, argv, out, match):
    assert main(argv + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err, err
    assert not out.exists(), "a refused command leaves nothing on disk"


@QUICK
@given(sizes=st.lists(st.integers(2, 400), min_size=2, max_size=3),
       limit_exp=st.integers(3, 6))
def test_grid_over_the_limit_is_refused_before_it_is_built(sizes, limit_exp):
    names = ["sigma", "lam", "eta_d"][:len(sizes)]
    axes = {n: np.linspace(0.1, 1, k) for n, k in zip(names, sizes, strict=True)}
    fixed = {k: 0.1 for k in ("sigma", "lam", "eta_d", "eta_g") if k not in axes}
    limit = 10 ** limit_exp
    need = math.prod(sizes) * 6 * 8  # six float64 variables of the theory dataset
    block = min(math.prod(sizes), 2**16) * 64 * 8  # one block of the closed forms at work
    if need > limit or block > limit:
        refusal = r"(phase grid|axis '\w+'|one block): needs .* over the limit of .*use (fewer|a --chunk)"
        with pytest.raises(ValueError, match=refusal):
            plan_sweep(axes, fixed, max_memory=limit)
    else:
        assert plan_sweep(axes, fixed, max_memory=limit).shape == tuple(sizes)


@QUICK
@given(steps=st.integers(5 * 10**6, 10**12), chunk=st.integers(1, 4096))  # one cell: >= 120 MB
def test_simulated_block_over_the_limit_names_what_fits(steps, chunk):
    axes = {"sigma": np.linspace(0.1, 1, 64), "lam": np.linspace(0.1, 1, 64)}
    with pytest.raises(ValueError, match=r"one simulated block: needs .*(--chunk-size of at most|--steps)"):
        plan_sweep(axes, {"eta_d": 0.1, "eta_g": 0.1}, method="simulate", num_steps=steps, chunk_size=chunk,
                   max_memory="100M")


def test_cli_memory_refusals_are_one_line_and_leave_nothing(tmp_path, capsys):
    out = tmp_path / "D"
    _refused(capsys, ["phase", "--axis", "sigma=0.1:1:3000", "--axis", "lam=0.1:1:3000", "--set", "eta_d=0.1",
                      "--set", "eta_g=0.1", "--max-memory", "50M"], out, "phase grid: needs")
    _refused(capsys, BASE + ["--axis", "eta_d=0.1:1:1e15"], out, "values on one axis")
    _refused(capsys, BASE + ["--method", "simulate", "--steps", "100000000", "--max-memory", "1G"], out,
             "one simulated block")
    _refused(capsys, BASE + ["--max-memory", "lots"], out, "expected a size")


@QUICK
@given(option=st.sampled_from(["--tol", "--measure-tol", "--seed", "--history-tol", "--steps",
                               "--chunk-size"]),
       value=st.sampled_from(["-1", "nan", "inf", "-0.5", "0"]))
def test_bad_settings_are_refused_before_any_file(tmp_path, capsys, option, value):
    if option in ("--seed", "--steps", "--chunk-size") and value in ("nan", "inf", "-0.5"):
        value = "-3"
    if option in ("--seed", "--history-tol") and value == "0":
        return  # valid: seed 0, full history
    out = tmp_path / "D"
    assert main(BASE + ["--method", "simulate", option, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize("argv, match", [
    (["--set", "q=0.5", "--set", "q=0.7"], "--set q given twice"),
    (["--set", "mode=momentum", "--set", "beta=0.1", "--set", "beta=0.1"], "--set beta given twice"),
])
def test_repeated_setting_is_refused(tmp_path, capsys, argv, match):
    _refused(capsys, BASE + argv, tmp_path / "D", match)


def test_linearize_refuses_a_laplacian_scenario_with_the_reason(tmp_path, capsys):
    doc = {"true": {"points": [[0.0], [1.0]]}, "generated": {"on_true": True, "offset": 0.01},
           "kernel": {"kind": "laplacian", "sigma": 0.4}, "lam": 0.5, "gda": {"eta_d": 0.1, "eta_g": 0.1}}
    sc = parse_scenario(doc)
    with pytest.raises(ValueError) as lib:
        phase_diagram({"lam": [0.2, 1.0]}, method="linearize", scenario=sc)
    with pytest.raises(ValueError) as ref:
        require_smooth(sc.gan.kernel)
    assert str(lib.value) == str(ref.value) and "not differentiable" in str(ref.value)
    path = tmp_path / "lap.toml"
    path.write_text('lam = 0.5\n[true]\npoints = [[0.0], [1.0]]\n[generated]\non_true = true\n'
                    'offset = 0.01\n[kernel]\nkind = "laplacian"\nsigma = 0.4\n[gda]\neta_d = 0.1\n'
                    'eta_g = 0.1\n')
    _refused(capsys, ["phase", "--method", "linearize", "--scenario", str(path), "--axis", "lam=0.2,1"],
             tmp_path / "D", str(ref.value))
    assert main(["analyze", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"kernelgda: error: {ref.value}", "analyze refuses it alike"


# A fresh interpreter that runs the command and prints its own peak resident memory (kB):
# VmHWM of its address space (ru_maxrss would include the pages of the forking test process).
_PEAK = ("import sys\nfrom kernelgda.cli import main\nrc = main(sys.argv[1:])\n"
         "print(next(ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM')))\n"
         "sys.exit(rc)")


@pytest.mark.slow  # a fresh interpreter: ~1-2 s
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_huge_grid_refused_fast_in_little_memory(tmp_path):
    out = tmp_path / "D"
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK, "phase", "--axis", "sigma=0.1:1:100000",
                           "--axis", "lam=0.1:1:100000", "--axis", "eta_d=0.01:0.1:1000", "--set",
                           "eta_g=0.1", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    seconds = time.perf_counter() - start  # mostly the interpreter's imports
    assert seconds < 20, f"refused after {seconds:.1f} s"
    assert peak_mb < 400, f"peak resident memory {peak_mb:.0f} MB"
    assert not out.exists()


@pytest.mark.slow  # ~3 s: 34 blocks written to a Zarr store, summary by reductions over it
def test_grid_too_large_for_memory_is_pointed_at_zarr_which_computes_it(tmp_path, capsys):
    pytest.importorskip("zarr")
    import json

    import xarray as xr

    argv = ["phase", "--axis", "sigma=0.1:1:100", "--axis", "lam=0.1:1:100", "--set", "eta_d=0.1", "--set",
            "eta_g=0.1", "--max-memory", "200K"]
    out = tmp_path / "D"
    _refused(capsys, argv, out, "--format zarr")
    assert main(argv + ["--format", "zarr", "--chunk-size", "300", "--out", str(out)]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plot"].startswith("plot skipped") and summary["cells"] == 10**4
    ref = phase_diagram({"sigma": np.linspace(0.1, 1, 100), "lam": np.linspace(0.1, 1, 100)},
                        {"eta_d": 0.1, "eta_g": 0.1})
    stored = xr.open_zarr(out / "phase.zarr")
    labels = ("undetermined",) + REGIMES
    codes, counts = np.unique(ref.regime.values, return_counts=True)
    assert summary["regimes"] == {labels[c + 1]: int(n) for c, n in zip(codes, counts, strict=True)}
    np.testing.assert_array_equal(stored.regime.values, ref.regime.values)
