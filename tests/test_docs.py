"""The documentation's helpers: the offline check of a built site, the theory sections an
experiment cites, and how ``kernelgda reproduce`` finds a site next to its report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kernelgda.cli.reproduce import find_site
from kernelgda.experiments import EXPERIMENTS, cited_sections

ROOT = Path(__file__).resolve().parents[1]


def _check_offline():
    spec = importlib.util.spec_from_file_location("check_offline", ROOT / "docs" / "check_offline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_offline_check_flags_every_asset_fetched_from_the_network(tmp_path):
    (tmp_path / "index.html").write_text(
        '<link rel="stylesheet" href="_static/a.css"><script src="_static/a.js"></script>'
        '<a href="https://example.org/paper">a link is fine</a>'
        '<script src="https://cdn.example.org/x.js"></script>'
        '<link rel="stylesheet" href="//cdn.example.org/y.css"><img src="data:image/png;base64,AA==">')
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.css").write_text('@import "https://fonts.example.org/f.css"; '
                                                  "p { background: url(img/local.png) }")
    found = _check_offline().remote_assets(tmp_path)
    assert sorted(found) == sorted(["index.html: https://cdn.example.org/x.js",
                                    "index.html: //cdn.example.org/y.css",
                                    "_static/a.css: https://fonts.example.org/f.css"]), found
    assert _check_offline().main([str(tmp_path)]) == 1
    (tmp_path / "index.html").write_text('<script src="_static/a.js"></script>')
    (tmp_path / "_static" / "a.css").write_text("p {}")
    assert _check_offline().main([str(tmp_path)]) == 0


@pytest.mark.parametrize("text, expected", [
    ("over random configurations (theory section 7.1)", (7,)),
    ("offset, spread and lam (theory sections 9, 11)", (9, 11)),
    ("the initial distance (theory sections 4, 7)", (4, 7)),
    ("the mu-plane (section 8)", (8,)),
    ("sections 9 and 11 and section 3", (3, 9, 11)),
    ("ten digits, no citation", ()),
])
def test_cited_sections_reads_the_numbers_a_description_cites(text, expected):
    assert cited_sections(text) == expected, "hand-read sections of the text"


def test_every_cited_section_exists_in_the_theory():
    headings = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")
    for name, exp in EXPERIMENTS.items():
        for n in exp.theory_sections:
            assert f"\n## {n}. " in headings, f"{name} cites theory section {n}, a heading of docs/theory.md"


def test_reproduce_finds_a_built_site_next_to_its_output(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    assert find_site(out, cwd=tmp_path) == "", "no site anywhere"
    built = tmp_path / "docs" / "_build" / "html"
    built.mkdir(parents=True)
    assert find_site(out, cwd=tmp_path) == "", "a build folder without theory.html is not a site"
    (built / "theory.html").write_text("<html></html>")
    assert find_site(out, cwd=tmp_path) == "../docs/_build/html", "the README's build, relative to out"
    (out / "site").mkdir()
    (out / "site" / "theory.html").write_text("<html></html>")
    assert find_site(out, cwd=tmp_path) == "site", "a site built into the output directory comes first"


def _public_names():
    import kernelgda

    return [n for n in kernelgda.__all__ if not n.startswith("__")
            and type(getattr(kernelgda, n)).__name__ != "module"]


@pytest.mark.parametrize("name", _public_names())
def test_every_public_name_documents_its_parameters_returns_and_an_example(name):
    """What the API reference renders for each front door (numpydoc sections in the docstring)."""
    import inspect

    import kernelgda

    obj = getattr(kernelgda, name)
    doc = inspect.getdoc(obj) or ""
    if not callable(obj):  # a constant: documented where it is defined (#: comment or docstring)
        return
    assert "Examples\n--------" in doc or ">>> " in doc, f"kg.{name}: a doctest example"
    params = [p for p in inspect.signature(obj).parameters if p not in ("self", "args", "kwargs")]
    if params:
        assert "Parameters\n----------" in doc or "Attributes\n----------" in doc, \
            f"kg.{name}: a Parameters (or, for a dataclass, Attributes) section"
    if not isinstance(obj, type):
        assert "Returns\n-------" in doc, f"kg.{name}: a Returns section"
