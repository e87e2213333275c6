"""The README's quick start runs as written and says what it claims."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"## {title}", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quick_start_runs_and_agrees(capsys):
    ns: dict = {}
    exec(compile(_block("Quick start"), "README quick start", "exec"), ns)  # noqa: S102
    out = capsys.readouterr().out
    assert "oscillatory" in out
    # Linearization vs closed form (section 5) and vs the measured rate (section 4, 1e-3).
    np.testing.assert_allclose(ns["lin"].generator_rate, ns["r"].generator_rate, atol=1e-10)
    np.testing.assert_allclose(ns["traj"].rate(ns["eq"].y), ns["lin"].generator_rate, atol=1e-3)
