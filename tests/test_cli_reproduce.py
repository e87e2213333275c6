"""``kernelgda reproduce``, ``figure`` and ``list``: files, report links, bad input, interruptions.

Most tests run small stand-in experiments registered for the test, so that the file
handling is checked in milliseconds; the slow test runs the whole registry in quick
mode, as the README's first command does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from kernelgda.cli import main
from kernelgda.experiments import EXPERIMENTS, Experiment, Result


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("kernelgda:")]
    assert len(lines) == 1, f"expected one error line, got {err!r}"
    return lines[0]


def _fake(name: str, *, fail_compute: BaseException | None = None):
    """A tiny experiment module following the registry protocol."""

    @dataclass(frozen=True)
    class Config:
        size: int = 5
        seed: int = 1

    def compute(config, *, progress=None):
        if fail_compute is not None:
            raise fail_compute
        x = np.arange(config.size, dtype=float)
        return Result(name, config, {"y": (("x",), x**2), "z": (("x",), x + 1j)}, {"x": x},
                      table=[{"x": 1.0, "predicted": 1.0, "measured": 1.0 + 1e-9}],
                      summary={"max_error": 1e-9}, caption=f"caption of {name}")

    def plot(result):
        from kernelgda.plotting import new_figure

        fig, ax = new_figure()
        ax.plot(result["x"], result["y"])
        return fig

    module = SimpleNamespace(NAME=name, DESCRIPTION=f"stand-in {name}", Config=Config, QUICK=Config(size=3),
                             compute=compute, plot=plot)
    return Experiment(name, module)


@pytest.fixture
def fakes(monkeypatch):
    for name in ("fake-a", "fake-b"):
        monkeypatch.setitem(EXPERIMENTS, name, _fake(name))
    return monkeypatch


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_list_names_every_experiment(capsys):
    code, out, _ = _run(capsys, ["list"])
    assert code == 0
    for name in EXPERIMENTS:
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), f"list misses {name}"


def test_reproduce_writes_files_and_a_report_that_links_them(capsys, tmp_path, fakes):
    out = tmp_path / "res"
    code, stdout, _ = _run(capsys, ["reproduce", "--only", "fake-a", "fake-b", "--out", str(out)])
    assert code == 0
    for name in ("fake-a", "fake-b"):
        for ext in ("png", "pdf", "nc"):
            f = out / f"{name}.{ext}"
            assert f.is_file() and f.stat().st_size > 0, f"{f.name} missing or empty"
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    md = (out / "report.md").read_text()
    html = (out / "index.html").read_text()
    for name in ("fake-a", "fake-b"):
        assert f"]({name}.png)" in md and f"]({name}.pdf)" in md and f"]({name}.nc)" in md
        assert f'id="{name}"' in html
    assert html.count("data:image/png;base64,") == 2
    assert "--only fake-a fake-b" in md
    assert _leftovers(out) == [], "temporary files left behind"
    assert "report.md" in stdout


def test_data_file_holds_the_result(capsys, tmp_path, fakes):
    import xarray as xr

    code, _, _ = _run(capsys, ["figure", "fake-a", "--out", str(tmp_path)])
    assert code == 0
    with xr.open_dataset(tmp_path / "fake-a.nc", engine="scipy") as ds:
        np.testing.assert_array_equal(ds["y"].values, np.arange(5.0) ** 2)  # full Config, not QUICK
        np.testing.assert_array_equal(ds["z_imag"].values, np.ones(5))
        assert ds.attrs["caption"] == "caption of fake-a"
    assert not (tmp_path / "report.md").exists(), "figure writes no report"


def test_quick_uses_the_quick_configuration(capsys, tmp_path, fakes):
    import xarray as xr

    assert _run(capsys, ["figure", "fake-a", "--quick", "--out", str(tmp_path)])[0] == 0
    with xr.open_dataset(tmp_path / "fake-a.nc", engine="scipy") as ds:
        assert ds.sizes["x"] == 3


@pytest.mark.parametrize("argv", [["reproduce", "--only", "no-such"], ["figure", "no-such"]])
def test_unknown_experiment_exits_2_listing_valid_names(capsys, tmp_path, argv):
    out = tmp_path / "never"
    code, _, err = _run(capsys, argv + ["--out", str(out)])
    assert code == 2
    line = _error_line(err)
    assert "no-such" in line and "rate-check" in line and "digits" in line, line
    assert not out.exists(), "nothing may be created for bad input"


def test_unwritable_output_directory_exits_2(capsys, tmp_path, fakes):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, ["reproduce", "--only", "fake-a", "--out", str(blocker / "sub")])
    assert code == 2
    assert "--out" in _error_line(err)


def test_interrupted_run_leaves_finished_files_and_no_partial_ones(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(EXPERIMENTS, "fake-a", _fake("fake-a"))
    monkeypatch.setitem(EXPERIMENTS, "fake-b", _fake("fake-b", fail_compute=KeyboardInterrupt()))
    code, _, err = _run(capsys, ["reproduce", "--only", "fake-a", "fake-b", "--out", str(tmp_path)])
    assert code == 2 and "interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake-a.nc", "fake-a.pdf", "fake-a.png"], \
        "finished experiment kept, nothing of the interrupted one, no report"


def test_interruption_while_writing_data_leaves_no_half_written_file(capsys, tmp_path, monkeypatch):
    import kernelgda.experiments as experiments

    monkeypatch.setitem(EXPERIMENTS, "fake-a", _fake("fake-a"))

    class HalfWriter:
        def to_netcdf(self, path, engine=None):
            with open(path, "wb") as fh:
                fh.write(b"CDF\x01 half")
            raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "to_dataset", lambda result: HalfWriter())
    code, _, _ = _run(capsys, ["figure", "fake-a", "--out", str(tmp_path)])
    assert code == 2
    assert not (tmp_path / "fake-a.nc").exists()
    assert _leftovers(tmp_path) == [], "the temporary file must be removed"


@pytest.mark.slow
def test_quick_reproduce_runs_every_experiment(capsys, tmp_path):
    code, _, _ = _run(capsys, ["reproduce", "--quick", "--out", str(tmp_path)])
    assert code == 0
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "index.html").read_text()
    for name in EXPERIMENTS:
        for ext in ("png", "pdf", "nc"):
            assert (tmp_path / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
        assert f"![{name}]({name}.png)" in md, f"report does not link {name}.png"
    assert html.count("data:image/png;base64,") == len(EXPERIMENTS)
    assert _leftovers(tmp_path) == []
