"""Probe suite, the command line and scenario files (issue 20, classes 1, 2, 3, 6, 7 and 8):
every hostile input is one ``kernelgda: error:`` line naming the file, key or option, exit
code 2, nothing written; a deprecated key is one ``kernelgda: note:`` line, also under
``-W error``. The oracle is that rule; files are written here, independently of the code."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import kernelgda as kg
from kernelgda.cli import main
from kernelgda.phase.run import parse_address
from kernelgda.scenario import load_scenario
from kernelgda.tables import MAX_FILE_BYTES

BASE = """lam = 0.5
[true]
points = [[0.0, 0.0]]
[generated]
on_true = true
offset = [0.05, 0.0]
[kernel]
sigma = 0.5
[gda]
eta_d = 0.1
eta_g = 0.1
"""
ISOLATED = ["--set", "eta_d=0.1", "--set", "eta_g=0.1", "--set", "lam=0.5"]


def _cli(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(code, err, *needles):
    assert code == 2, f"bad input exits 2, got {code}: {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kernelgda: error:"), f"one error line: {err!r}"
    for needle in needles:
        assert needle in err, f"the error should name {needle!r}: {err!r}"


# -- class 1 and 2: scenario files beyond float64, over the digit limit, nested, not files ------

SCENARIO_PROBES = {
    "400-digit sigma": (lambda: BASE.replace("sigma = 0.5", "sigma = " + "9" * 400), "kernel.sigma"),
    "400-digit lam": (lambda: BASE.replace("lam = 0.5", "lam = " + "7" * 400), "lam"),
    "400-digit weight": (lambda: BASE.replace("on_true = true", "on_true = true\nweights = " + "9" * 400),
                         "generated.weights"),
    "400-digit point": (lambda: BASE.replace("[[0.0, 0.0]]", "[[" + "9" * 400 + ", 0]]"), "true.points"),
    "400-digit offset": (lambda: BASE.replace("[0.05, 0.0]", "[" + "9" * 400 + ", 0]"), "generated.offset"),
    "5000-digit sigma": (lambda: BASE.replace("sigma = 0.5", "sigma = " + "9" * 5000), "float64"),
    "deep nesting": (lambda: BASE.replace("[0.05, 0.0]", "[" * 5000 + "]" * 5000), "nested"),
    "4-deep points": (lambda: BASE.replace("[[0.0, 0.0]]", "[[[[0.0, 0.0]]]]"), "true.points"),
    "deep tables": (lambda: BASE + "[x" + ".x" * 3000 + "]\n", "file"),
}


@pytest.mark.parametrize("case", sorted(SCENARIO_PROBES))
def test_hostile_scenario_files_are_one_line(capsys, tmp_path, case):
    text, needle = SCENARIO_PROBES[case]
    path = tmp_path / "s.toml"
    path.write_text(text())
    code, out, err = _cli(capsys, ["analyze", str(path)])
    _one_error(code, err, needle, "s.toml")
    assert out == "" and len(err) < 400, f"a long number is named, not printed: {len(err)} characters"


@pytest.mark.parametrize("make", ["fifo", "directory", "device", "oversized"])
def test_scenario_must_be_a_bounded_regular_file(tmp_path, make):
    if make == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)  # opening it would block a reader forever without a writer
        path = str(path)
    elif make == "directory":
        path = str(tmp_path)
    elif make == "device":
        path = "/dev/zero"  # an endless read without the check
    else:
        path = tmp_path / "big.toml"
        with open(path, "wb") as fh:  # a sparse file: the size is checked, not the bytes read
            fh.truncate(MAX_FILE_BYTES + 1)
    if make == "fifo":  # open() of a FIFO blocks: run it where a hang fails the test
        code = f"from kernelgda.scenario import load_scenario\ntry:\n load_scenario({path!r})\n" \
               "except ValueError as e:\n print(e)\n"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONWARNINGS": "error"})
        out = done.stdout
        if "regular file" not in out:  # open() itself blocks on a FIFO with no writer
            pytest.fail(f"a FIFO must be refused as not a regular file: {out!r} {done.stderr[-300:]!r}")
        return
    with pytest.raises(ValueError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    assert ("regular file" in msg) or ("limit" in msg) or ("cannot read" in msg), msg


# -- class 3: scheduler addresses ------------------------------------------------------------

@pytest.mark.parametrize("address", ["", " ", "local:\u00b2", "local:0", "local:-1", "local:1.5",
                                     "local:99999999", "inproc://x", "ucx://1.2.3.4:1", "tcp://host",
                                     "tcp://host:0", "tcp://host:70000", "tcp://:1", "host:8786",
                                     "local:\u0661"])
def test_bad_scheduler_addresses_are_refused_before_anything(capsys, tmp_path, address):
    with pytest.raises(ValueError) as info:
        parse_address(address)
    assert "--scheduler" in str(info.value) and "\n" not in str(info.value)
    out = tmp_path / "out"
    code, _, err = _cli(capsys, ["phase", "--axis", "sigma=0.5,1"] + ISOLATED
                        + ["--scheduler", address, "--out", str(out)])
    _one_error(code, err, "--scheduler")
    assert not out.exists(), "refused before the output directory is created"


@pytest.mark.parametrize("address", ["local:1", "tcp://127.0.0.1:8786", "tls://sched.example:8786",
                                     "tcp://[::1]:8786"])
def test_good_scheduler_addresses_parse(address):
    kind, value = parse_address(address)
    assert (kind, value) == (("local", 1) if address == "local:1" else ("remote", address))


# -- class 6: one policy for repeated options, sizes, ranges ----------------------------------

RATES = ["rates", "--eta-d", "0.1", "--eta-g", "0.1", "--lam", "0.5", "--sigma", "0.3"]


@pytest.mark.parametrize("argv", [
    RATES + ["--sigma", "0.5"],
    RATES + ["--eta-d", "0.2"],
    RATES + ["--mode", "momentum", "--mode", "simultaneous"],
    ["analyze", "s.toml", "--seed", "1", "--seed", "2"],
    ["analyze", "s.toml", "--max-memory", "1G", "--max-memory", "2G"],
    ["phase", "--axis", "sigma=1,2"] + ISOLATED + ["--out", "a", "--out", "b"],
    ["phase", "--axis", "sigma=1,2"] + ISOLATED + ["--method", "theory", "--method", "simulate",
                                                   "--out", "a"],
    ["smm", "--steps", "10", "--steps", "20"],
], ids=["rates sigma", "rates eta-d", "rates mode", "analyze seed", "analyze max-memory", "phase out",
        "phase method", "smm steps"])
def test_an_option_given_twice_is_refused_by_every_command(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text(BASE)
    code, out, err = _cli(capsys, argv)
    _one_error(code, err, "given twice")
    assert out == "" and not (tmp_path / "a").exists()


@pytest.mark.parametrize("command", ["analyze", "phase"])
@pytest.mark.parametrize("size", ["0.5", "0", "0.999", "-1G", "1e-4K", "lots"])
def test_max_memory_below_a_byte_names_the_option(capsys, tmp_path, size, command):
    path = tmp_path / "s.toml"
    path.write_text(BASE)
    argv = ([str(path)] if command == "analyze" else
            ["--axis", "sigma=0.5,1"] + ISOLATED + ["--out", str(tmp_path / "o")])
    code, _, err = _cli(capsys, [command] + argv + ["--max-memory", size])
    _one_error(code, err, "--max-memory")
    assert "scenario file" not in err, f"the option is at fault, not the file: {err!r}"
    assert not (tmp_path / "o").exists()


def test_rates_sigma_range_is_documented_as_any_float64(capsys):
    """The isolated closed forms take any positive float64 sigma (README): 1e-60 is answered,
    with c = eta_d eta_g n q^2 / sigma^2 = 1e118 (closed form, theory section 5)."""
    code, out, err = _cli(capsys, RATES[:-1] + ["1e-60", "--json"])
    assert code == 0 and err == "", err
    import json

    np.testing.assert_allclose(json.loads(out)["c"], 0.01 / 1e-120, rtol=1e-14, err_msg="c closed form")


# -- class 7: the README's multiscale scenario ------------------------------------------------

def test_readme_multiscale_scenario_loads(tmp_path):
    path = tmp_path / "ms.toml"
    path.write_text(BASE.replace("sigma = 0.5", 'kind = "multiscale"\nsigmas = [0.3, 1.0]\n'
                                                "scale_weights = [1.0, 0.5]"))
    s = load_scenario(path)
    x = np.array([[0.2, -0.1]])
    want = 1.0 * np.exp(-0.05 / (2 * 0.09)) + 0.5 * np.exp(-0.05 / 2)  # |x|^2 = 0.05
    np.testing.assert_allclose(s.gan.kernel.pair_value(x, np.zeros((1, 2)))[0, 0], want, rtol=1e-14,
                               err_msg="sum of Gaussians, written out")
    assert s.params()["sigmas"] == [0.3, 1.0] and s.params()["scale_weights"] == [1.0, 0.5]


@pytest.mark.parametrize(("kernel", "needle"), [
    ('kind = "multiscale"', "kernel.sigmas"),
    ('kind = "multiscale"\nsigma = 0.5\nsigmas = [1.0]', "kernel.sigma"),
    ('kind = "multiscale"\nsigmas = ["0.3"]', "kernel.sigmas"),
    ('kind = "multiscale"\nsigmas = [0.3, -1.0]', "sigmas"),
    ('kind = "multiscale"\nsigmas = [0.3]\nscale_weights = [1.0, 2.0]', "scale_weights"),
    ('sigma = 0.5\nsigmas = [0.3]', "kernel.sigmas"),
])
def test_bad_multiscale_scenarios_are_named(tmp_path, kernel, needle):
    path = tmp_path / "ms.toml"
    path.write_text(BASE.replace("sigma = 0.5", kernel))
    with pytest.raises(ValueError, match=needle):
        load_scenario(path)


# -- class 8: the deprecated gda.lam is a note, not a warning traceback ------------------------

@pytest.mark.parametrize("warnings_flag", ["default", "error", "ignore"])
def test_deprecated_gda_lam_is_one_note_line(tmp_path, warnings_flag):
    path = tmp_path / "old.toml"
    path.write_text(BASE.replace("lam = 0.5\n", "").replace("eta_g = 0.1", "eta_g = 0.1\nlam = 0.5"))
    done = subprocess.run([sys.executable, "-W", warnings_flag, "-m", "kernelgda", "analyze", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    notes = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and notes[0].startswith("kernelgda: note:") and "gda.lam" in notes[0], notes


def test_deprecated_gda_lam_still_warns_library_users(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(BASE.replace("lam = 0.5\n", "").replace("eta_g = 0.1", "eta_g = 0.1\nlam = 0.5"))
    with pytest.warns(DeprecationWarning, match="gda.lam"):
        assert load_scenario(path).gan.lam == 0.5


def test_large_integer_parameters_on_the_command_line(capsys, tmp_path):
    """--axis n=1,1e30 and --set n=1e20: one line naming n, nothing written; n = 1e12 is a valid
    grid whose netCDF file stores n as float64 (exact: 1e12 < 2^53)."""
    for argv in (["--axis", "n=1,1e30", "--set", "sigma=1"], ["--axis", "sigma=1,2", "--set", "n=1e20"]):
        out = tmp_path / "o"
        code, _, err = _cli(capsys, ["phase"] + argv + ISOLATED + ["--out", str(out)])
        _one_error(code, err, "n")
        assert not out.exists()
    out = tmp_path / "ok"
    code, _, err = _cli(capsys, ["phase", "--axis", "n=1,1e12", "--set", "sigma=1"] + ISOLATED
                        + ["--out", str(out)])
    assert code == 0, err
    import xarray as xr

    from kernelgda.phase import from_netcdf

    with xr.open_dataset(out / "phase.nc", engine="scipy") as ds:
        ds = from_netcdf(ds.load())
    assert ds["n"].values.tolist() == [1.0, 1e12]
    want = kg.isolated.eigenvalues(n=10**12, q=1.0, p=1.0, eta_d=0.1, eta_g=0.1, lam=0.5, sigma=1.0)
    np.testing.assert_allclose(ds["generator_rate"].values[1], want.generator_rate, rtol=1e-12,
                               err_msg="the closed form at n = 1e12")


# -- class 14: figures of valid input never warn ------------------------------------------------

FIGURE_GRIDS = {
    "one axis, every cell skipped": ({"lam": [0.0, 0.0]}, {"q": 0.5, "sigma": 0.5}, "simulate"),
    "one axis, out of order": ({"sigma": [1.0, 0.3, 0.6]}, {"lam": 0.5}, "theory"),
    "two axes, out of order": ({"sigma": [1.0, 0.3, 0.6], "lam": [0.5, 0.1, 2.0]}, {}, "theory"),
    "two axes, decreasing": ({"sigma": [1.0, 0.6, 0.3], "lam": [2.0, 0.5]}, {}, "theory"),
    "two axes, one value each": ({"sigma": [0.5], "lam": [0.5]}, {}, "theory"),
    "two axes, repeated value": ({"sigma": [0.5, 0.5, 1.0], "lam": [0.5, 1.0]}, {}, "theory"),
}


@pytest.mark.parametrize("case", sorted(FIGURE_GRIDS))
def test_phase_figures_of_valid_grids_do_not_warn(case):
    """pytest turns warnings into errors: matplotlib's empty-legend and non-monotone-mesh
    warnings fail here. The drawn data is the dataset's (oracle: the values plotted)."""
    import matplotlib.pyplot as plt

    from kernelgda.plotting import phase_figure

    axes, fixed, method = FIGURE_GRIDS[case]
    ds = kg.phase_diagram(axes, {"eta_d": 0.1, "eta_g": 0.1, **fixed}, method=method, num_steps=30)
    fig = phase_figure(ds)
    try:
        if len(axes) == 1:
            line = fig.axes[0].lines[0]
            order = np.argsort(ds[next(iter(axes))].values, kind="stable")
            np.testing.assert_array_equal(np.sort(line.get_xdata()), ds[next(iter(axes))].values[order])
    finally:
        plt.close(fig)


@pytest.mark.slow
def test_cli_one_axis_linearize_with_every_cell_skipped_writes_a_figure(capsys, tmp_path):
    path = tmp_path / "mm.toml"
    path.write_text(BASE.replace("on_true = true", "on_true = true\nweights = 0.5"))
    out = tmp_path / "o"
    code, _, err = _cli(capsys, ["phase", "--method", "linearize", "--scenario", str(path), "--axis", "lam=0",
                                 "--out", str(out)])
    assert code == 0 and err == "", err
    assert (out / "phase.png").exists()


@pytest.mark.parametrize("address", ["", "local:\u00b2", "inproc://x"])
def test_reproduce_refuses_bad_scheduler_addresses_before_anything(capsys, tmp_path, address):
    out = tmp_path / "r"
    code, _, err = _cli(capsys, ["reproduce", "--quick", "--only", "two-point", "--scheduler", address,
                                 "--out", str(out)])
    _one_error(code, err, "--scheduler")
    assert not out.exists()
