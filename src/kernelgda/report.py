"""The reproduction report: ``report.md`` and a self-contained ``index.html``.

Pure text rendering from the experiments' results (no file I/O; the CLI writes the
files atomically). The Markdown report links each figure (``NAME.png``, ``NAME.pdf``)
and its data (``NAME.nc``); the HTML page embeds the PNGs as base64 so that it can be
opened, mailed or archived on its own. Both hold, per experiment, the caption, the
headline numbers, the table of predicted versus measured rates and regimes and the
parameters, and at the top the package version, the mode (quick or full) and timings.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ReportEntry", "ReportMeta", "render_markdown", "render_html", "format_value", "theory_links"]

#: Rows of a table shown in the report; the full table is in the data file.
MAX_ROWS = 40


@dataclass(frozen=True)
class ReportEntry:
    """One experiment in the report.

    Attributes
    ----------
    name, description, caption : str
    table : list of dict
        Rows with the same keys.
    summary : dict
        Headline numbers.
    config : dict
        Parameters the experiment ran with.
    files : dict
        ``kind -> file name`` relative to the report (``png``, ``pdf``, ``data``).
    png : bytes
        The PNG figure, embedded in the HTML page.
    seconds : float
        Wall time of the experiment (computation and figure).
    theory : tuple of int
        Sections of ``docs/theory.md`` the experiment checks (linked when the report knows
        where the documentation site is, ``ReportMeta.site``).
    """

    name: str
    description: str
    caption: str
    table: list
    summary: dict
    config: dict
    files: dict
    png: bytes = b""
    seconds: float = float("nan")
    theory: tuple = ()


@dataclass(frozen=True)
class ReportMeta:
    """What the whole run was: package version, mode, command, date, total time.

    ``site`` is the URL of the built documentation site relative to the report (empty: none);
    when set, each experiment links to its sections of the site's theory page.
    """

    version: str
    quick: bool
    command: str = "kernelgda reproduce"
    date: str = ""
    seconds: float = float("nan")
    extra: dict = field(default_factory=dict)
    site: str = ""


def format_value(value) -> str:
    """A number with 4 significant digits (integers as they are), anything else as ``str``."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.4g}"
        return f"{v:.3e}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return f"{type(value).__name__}(" + ", ".join(
            f"{f.name}={format_value(getattr(value, f.name))}" for f in dataclasses.fields(value)) + ")"
    return str(value)


def _mode(meta: ReportMeta) -> str:
    return "quick (small grids, seconds per experiment)" if meta.quick else "full"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "n/a"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def theory_links(entry: ReportEntry, site: str) -> list[tuple[str, str]]:
    """``(label, url)`` of the site's theory section for each section the entry checks.

    Examples
    --------
    >>> e = ReportEntry("x", "", "", [], {}, {}, {}, theory=(7, 9))
    >>> theory_links(e, "site")
    [('section 7', 'site/theory.html#section-7'), ('section 9', 'site/theory.html#section-9')]
    >>> theory_links(e, "")
    []
    """
    if not site:
        return []
    root = site.rstrip("/")
    return [(f"section {n}", f"{root}/theory.html#section-{n}") for n in entry.theory]


def _md_cell(value) -> str:
    return format_value(value).replace("|", "\\|").replace("\n", " ")


def _md_table(rows: list) -> list[str]:
    if not rows:
        return []
    keys = list(rows[0])
    lines = ["| " + " | ".join(_md_cell(k) for k in keys) + " |",
             "|" + "|".join("---" for _ in keys) + "|"]
    for row in rows[:MAX_ROWS]:
        lines.append("| " + " | ".join(_md_cell(row.get(k, "")) for k in keys) + " |")
    if len(rows) > MAX_ROWS:
        lines.append("")
        lines.append(f"({len(rows) - MAX_ROWS} more rows in the data file.)")
    return lines


def render_markdown(entries: list[ReportEntry], meta: ReportMeta) -> str:
    """The Markdown report (links to the figure and data files next to it)."""
    out = ["# kernelgda: reproduction report", "",
           f"- package version: kernelgda {meta.version}",
           f"- mode: {_mode(meta)}",
           f"- command: `{meta.command}`"]
    if meta.date:
        out.append(f"- date: {meta.date}")
    out.append(f"- total time: {_duration(meta.seconds)}")
    for key, value in meta.extra.items():
        out.append(f"- {key}: {format_value(value)}")
    out += ["", "| experiment | figure | data | time |", "|---|---|---|---|"]
    for e in entries:
        out.append(f"| [{e.name}](#{e.name}) | [{e.files['png']}]({e.files['png']}) | "
                   f"[{e.files['data']}]({e.files['data']}) | {_duration(e.seconds)} |")
    for e in entries:
        out += ["", f"## {e.name}", "", e.description, "",
                f"![{e.name}]({e.files['png']})", "",
                f"**Figure.** {e.caption}", "",
                f"Files: [{e.files['png']}]({e.files['png']}), [{e.files['pdf']}]({e.files['pdf']}), "
                f"[{e.files['data']}]({e.files['data']}); time {_duration(e.seconds)}."]
        links = theory_links(e, meta.site)
        if links:
            out += ["", "Theory: " + ", ".join(f"[{label}]({url})" for label, url in links) + "."]
        if e.summary:
            out += ["", "Headline numbers:", ""]
            out += [f"- {k}: {format_value(v)}" for k, v in e.summary.items()]
        if e.table:
            out += ["", "Predicted versus measured:", ""] + _md_table(e.table)
        out += ["", "Parameters: " + ", ".join(f"`{k} = {format_value(v)}`" for k, v in e.config.items())]
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #333; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
code { font-size: 0.85rem; background: #f6f6f6; padding: 0 0.2rem; }
.meta li { margin: 0.1rem 0; } .params { font-size: 0.8rem; color: #444; }
"""


def _html_table(rows: list) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_value(r.get(k, '')))}</td>" for k in keys)
                   + "</tr>" for r in rows[:MAX_ROWS])
    more = (f"<p>({len(rows) - MAX_ROWS} more rows in the data file.)</p>" if len(rows) > MAX_ROWS else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def render_html(entries: list[ReportEntry], meta: ReportMeta) -> str:
    """A self-contained HTML page: figures embedded as base64 PNG, no external resources."""
    esc = html.escape
    items = [f"<li>package version: kernelgda {esc(meta.version)}</li>",
             f"<li>mode: {esc(_mode(meta))}</li>",
             f"<li>command: <code>{esc(meta.command)}</code></li>"]
    if meta.date:
        items.append(f"<li>date: {esc(meta.date)}</li>")
    items.append(f"<li>total time: {esc(_duration(meta.seconds))}</li>")
    items += [f"<li>{esc(str(k))}: {esc(format_value(v))}</li>" for k, v in meta.extra.items()]
    index = "".join(f'<li><a href="#{esc(e.name)}">{esc(e.name)}</a>: {esc(e.description)} '
                    f"({esc(_duration(e.seconds))})</li>" for e in entries)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>kernelgda: reproduction report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>kernelgda: reproduction report</h1>", f'<ul class="meta">{"".join(items)}</ul>',
             f"<ol>{index}</ol>"]
    for e in entries:
        img = base64.b64encode(e.png).decode("ascii")
        summary = "".join(f"<li>{esc(str(k))}: {esc(format_value(v))}</li>" for k, v in e.summary.items())
        params = ", ".join(f"<code>{esc(str(k))} = {esc(format_value(v))}</code>"
                           for k, v in e.config.items())
        links = ", ".join(f'<a href="{esc(e.files[k])}">{esc(e.files[k])}</a>'
                          for k in ("png", "pdf", "data"))
        parts += [f'<section id="{esc(e.name)}"><h2>{esc(e.name)}</h2>', f"<p>{esc(e.description)}</p>",
                  f'<figure><img alt="{esc(e.name)}" src="data:image/png;base64,{img}">',
                  f"<figcaption><b>Figure.</b> {esc(e.caption)}</figcaption></figure>",
                  f"<p>Files: {links}; time {esc(_duration(e.seconds))}.</p>"]
        theory = theory_links(e, meta.site)
        if theory:
            parts.append("<p>Theory: " + ", ".join(f'<a href="{esc(url)}">{esc(label)}</a>'
                                                   for label, url in theory) + ".</p>")
        if summary:
            parts.append(f"<p>Headline numbers:</p><ul>{summary}</ul>")
        if e.table:
            parts.append("<p>Predicted versus measured:</p>" + _html_table(e.table))
        parts.append(f'<p class="params">Parameters: {params}</p></section>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
