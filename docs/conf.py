"""Sphinx configuration of the kernelgda documentation site.

Build (after ``pip install -e '.[docs]'``), warnings as errors::

    sphinx-build -W -b html docs docs/_build/html

Nothing is fetched from the network at build or view time: the theme (furo) ships its
assets, MathJax is not loaded (the mathematics stays plain text, as in ``theory.md``), and
the gallery runs the scripts in ``examples/`` here. Three pages are generated from the
package on every build, so that a new public name, module or experiment gets its entry
without an edit here:

- ``generated/api.rst``: the API reference, one page per name in ``kernelgda.__all__``;
- ``generated/modules.rst``: a recursive page per public module (autosummary);
- ``generated/experiments.md``: the experiments of ``kernelgda reproduce`` with their
  figures at the quick settings (``KERNELGDA_DOCS_FIGURES=0`` skips the figures).
"""

from __future__ import annotations

import os
import pkgutil
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import kernelgda  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GENERATED = HERE / "generated"

project = "kernelgda"
author = "the kernelgda authors"
copyright = "2026, the kernelgda authors"  # noqa: A001
release = version = kernelgda.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "generated/api/*.examples", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.json", "auto_examples/*.pickle"]
templates_path = ["_templates"]

# --- HTML: an offline theme, no MathJax -------------------------------------------------------
html_theme = "furo"
html_title = f"kernelgda {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
# No math extension is loaded (sphinx.ext.mathjax would fetch MathJax from a CDN when viewed):
# formulas are plain text in the names the code uses, as in theory.md.

# --- MyST (the Markdown pages: theory, architecture, guide) -----------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# --- autodoc / autosummary / numpydoc ---------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "none"          # numpydoc's Parameters section is the one place for types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
suppress_warnings = ["config.cache"]   # sphinx-gallery's callables in the config are fine

# --- sphinx-gallery: examples/ -> auto_examples/ ----------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "write_computation_times": False,   # its page loads DataTables from a CDN
    "capture_repr": (),                  # print() output only, not the last expression
    "show_signature": False,
    "plot_gallery": "True",
}

#: Modules documented under "Modules" besides the names in ``kernelgda.__all__``: every public
#: (non-underscore) module of the package except the command line (documented in the guide's
#: command-line page) and the experiments (the experiments page).
SKIPPED_MODULES = {"cli", "experiments"}


def public_modules() -> list[str]:
    """Top-level public modules and packages of kernelgda, sorted."""
    names = [m.name for m in pkgutil.iter_modules(kernelgda.__path__)
             if not m.name.startswith("_") and m.name not in SKIPPED_MODULES]
    return sorted(names)


def _modules_page() -> str:
    """Every public module (a package lists its submodules), recursively."""
    lines = ["Modules", "=======", "",
             "Every public module of kernelgda with the names it defines; a package lists its",
             "submodules. The front doors are also in :doc:`api`.", "",
             ".. autosummary::", "   :toctree: api", "   :recursive:", ""]
    lines += [f"   kernelgda.{m}" for m in public_modules()] + [""]
    return "\n".join(lines)


def _api_page() -> str:
    """The API reference: the front doors of ``kernelgda.__all__``, then the public modules."""
    names = [n for n in kernelgda.__all__ if not n.startswith("__")]
    kinds: dict[str, list[str]] = {"Classes": [], "Functions": [], "Constants": []}
    for name in names:
        obj = getattr(kernelgda, name)
        if isinstance(obj, type):
            kinds["Classes"].append(name)
        elif callable(obj):
            kinds["Functions"].append(name)
        elif type(obj).__name__ == "module":
            continue  # documented below with the other modules
        else:
            kinds["Constants"].append(name)
    lines = ["API reference", "=============", "",
             "Generated on every build from ``kernelgda.__all__`` (the front doors: ``import kernelgda",
             "as kg`` then ``kg.NAME``) and from the package's public modules, so every public name has",
             "a page with its parameters, returns and an example.", "",
             ".. currentmodule:: kernelgda", ""]
    for title in ("Classes", "Functions", "Constants"):
        if not kinds[title]:
            continue
        lines += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: api", ""]
        lines += [f"   {n}" for n in sorted(kinds[title], key=str.lower)] + [""]
    lines += ["Modules", "-------", "", "Every public module, with the names it defines: :doc:`modules`.", "",
              ".. toctree::", "   :hidden:", "", "   modules", ""]
    return "\n".join(lines)


def _experiments_page(figures: bool) -> str:
    from kernelgda.experiments import EXPERIMENTS

    lines = ["# Experiments", "",
             "`kernelgda reproduce` runs these experiments and writes each one's figure, its data",
             "and a report (`report.md`, `index.html`). The figures below are drawn during the",
             "documentation build from each experiment's **quick** configuration (seconds each);",
             "the full configuration, and the headline numbers quoted in the README and the guide,",
             "come from `kernelgda reproduce`. `kernelgda figure NAME [--quick]` runs one.", ""]
    for name, exp in EXPERIMENTS.items():
        lines += [f"## {name}", "", exp.description + ".", ""]
        nums = exp.theory_sections
        if nums:
            links = ", ".join(f"{{ref}}`section {n} <theory-section-{n}>`" for n in nums)
            lines += [f"Theory: {links}.", ""]
        if figures:
            png, caption = _experiment_figure(exp)
            lines += [f"```{{figure}} {png}", ":width: 100%", "", caption, "```", ""]
    return "\n".join(lines)


def _experiment_figure(exp) -> tuple[str, str]:
    """Run the quick configuration, save the figure; its path (relative to the page) and caption."""
    import matplotlib.pyplot as plt

    out = GENERATED / "experiments" / f"{exp.name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = exp.compute(exp.config(quick=True))
    fig = exp.plot(result)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    # Markdown-safe caption: plain text with ASCII maths (asterisks and underscores escaped).
    caption = re.sub(r"([*_`\\])", r"\\\1", result.caption).replace("\n", " ")
    return f"experiments/{exp.name}.png", caption


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _generate() -> None:
    _write(GENERATED / "api.rst", _api_page())
    _write(GENERATED / "modules.rst", _modules_page())
    figures = os.environ.get("KERNELGDA_DOCS_FIGURES", "1") != "0"
    _write(GENERATED / "experiments.md", _experiments_page(figures))


def _theory_anchors(app, doctree) -> None:
    """Give each numbered section of theory.md the id ``section-N`` (stable links from the
    experiments page and the reproduction report, whatever the section's title)."""
    from docutils import nodes

    if app.env.docname != "theory":
        return
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        match = re.match(r"(\d+)\.\s", title.astext()) if title is not None else None
        if match:
            anchor = f"section-{match.group(1)}"
            section["ids"].insert(0, anchor)
            std = app.env.get_domain("std")
            std.anonlabels[f"theory-{anchor}"] = ("theory", anchor)
            std.labels[f"theory-{anchor}"] = ("theory", anchor, title.astext())


# Generated when the configuration is read, before autosummary writes its stub pages.
_generate()


def setup(app):
    app.connect("doctree-read", _theory_anchors)

