"""The reproduction report: Markdown links and a self-contained HTML page (kernelgda.report)."""

from __future__ import annotations

import base64
import dataclasses
import re

import numpy as np

from kernelgda.report import MAX_ROWS, ReportEntry, ReportMeta, format_value, render_html, render_markdown


def _entry(name: str, png: bytes, rows: int = 3, caption: str = "a caption") -> ReportEntry:
    return ReportEntry(
        name=name, description=f"what {name} shows", caption=caption,
        table=[{"regime": "monotone", "predicted rate": 0.5 + i / 100, "measured rate": 0.5 + i / 100 + 1e-9}
               for i in range(rows)],
        summary={"max_error": 1.5e-9, "agreement": "3/3"}, config={"seed": 1, "sigmas": (0.1, 1.0)},
        files={"png": f"{name}.png", "pdf": f"{name}.pdf", "data": f"{name}.nc"}, png=png, seconds=1.25)


META = ReportMeta(version="9.9.9", quick=True, command="kernelgda reproduce --quick", date="today",
                  seconds=12.0)


def test_markdown_links_every_figure_pdf_and_data_file():
    entries = [_entry("alpha", b"A"), _entry("beta", b"B")]
    md = render_markdown(entries, META)
    for name in ("alpha", "beta"):
        assert f"![{name}]({name}.png)" in md, "figure embedded as a relative image link"
        assert f"({name}.pdf)" in md and f"({name}.nc)" in md, "links to the PDF and the data"
        assert f"## {name}" in md
    assert "kernelgda 9.9.9" in md and "quick" in md, "package version and mode at the top"
    assert "| regime | predicted rate | measured rate |" in md, "predicted vs measured table"
    assert "`seed = 1`" in md, "parameters listed"


def test_html_is_self_contained_with_the_figures_embedded():
    pngs = {"alpha": bytes(range(256)), "beta": b"\x89PNG fake"}
    page = render_html([_entry(n, b) for n, b in pngs.items()], META)
    found = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [base64.b64decode(f) for f in found] == list(pngs.values()), "base64 round trip of the PNGs"
    # No external resources: every src is a data URI, every href is a local file or an anchor.
    assert all(s.startswith("data:") for s in re.findall(r'src="([^"]*)"', page))
    assert all(not h.startswith(("http:", "https:", "//")) for h in re.findall(r'href="([^"]*)"', page))
    assert "<table>" in page and "kernelgda 9.9.9" in page


def test_html_escapes_text():
    page = render_html([_entry("alpha", b"", caption="<script>alert(1)</script> & more")], META)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page and "&amp; more" in page


def test_long_tables_are_cut_with_a_note():
    md = render_markdown([_entry("alpha", b"", rows=MAX_ROWS + 7)], META)
    assert "7 more rows in the data file" in md
    assert md.count("| monotone |") == MAX_ROWS


def test_format_value():
    assert format_value(0.123456) == "0.1235"
    assert format_value(1.5e-9) == "1.500e-09"
    assert format_value(np.int8(3)) == "3"
    assert format_value(float("nan")) == "n/a"
    assert format_value((0.1, 2)) == "(0.1, 2)"
    assert format_value(True) == "yes"
    assert format_value("x|y") == "x|y"


def test_html_links_each_experiment_to_its_theory_sections_when_the_site_is_known():
    entry = dataclasses.replace(_entry("alpha", b""), theory=(7, 9))
    site_meta = dataclasses.replace(META, site="../docs/_build/html")
    page = render_html([entry], site_meta)
    hrefs = re.findall(r'href="([^"]*theory[^"]*)"', page)
    assert hrefs == ["../docs/_build/html/theory.html#section-7", "../docs/_build/html/theory.html#section-9"]
    md = render_markdown([entry], site_meta)
    assert "[section 9](../docs/_build/html/theory.html#section-9)" in md
    # No site next to the report: no link to it (the page stays self-contained).
    assert "theory.html" not in render_html([entry], META) + render_markdown([entry], META)
