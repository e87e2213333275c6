"""The gallery scripts in examples/ run at their quick settings and each draws a figure.

The documentation build runs them at full settings (sphinx-gallery); here every script runs
with ``KERNELGDA_EXAMPLE_QUICK=1`` so that an example broken by a change to the library fails
the test suite, not only the documentation build.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


def test_the_gallery_has_one_example_per_main_capability():
    assert len(EXAMPLES) >= 8, f"at least eight gallery examples, found {[p.name for p in EXAMPLES]}"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_draws_a_figure(path, monkeypatch):
    monkeypatch.setenv("KERNELGDA_EXAMPLE_QUICK", "1")
    plt.close("all")
    try:
        runpy.run_path(str(path), run_name="__main__")
        assert plt.get_fignums(), f"{path.name} draws at least one figure for the gallery"
    finally:
        plt.close("all")
