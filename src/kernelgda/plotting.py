"""Figures from results: no computation, no file I/O.

Matplotlib is imported lazily so that ``import kernelgda`` stays fast. Every
figure uses the same colour for a regime (:data:`REGIME_COLORS`) and the paper's
symbols in mathtext (:data:`SYMBOLS`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["REGIME_COLORS", "SYMBOLS", "style", "new_figure", "phase_figure", "w2_panel"]

#: One colour per regime label (theory section 6), shared by every figure.
REGIME_COLORS = {
    "monotone": "#1b9e77",
    "oscillatory": "#7570b3",
    "flipping": "#e6ab02",
    "neutral": "#666666",
    "cycling": "#66a61e",
    "divergent": "#d95f02",
}

#: Mathtext labels of the paper's symbols.
SYMBOLS = {
    "sigma": r"$\sigma$",
    "lam": r"$\lambda$",
    "eta_d": r"$\eta_d$",
    "eta_g": r"$\eta_g$",
    "mu": r"$\mu = \eta_g/\eta_d$",
    "p": r"$p$",
    "q": r"$q$",
    "n": r"$n$",
    "a": r"$\eta_d \lambda$",
    "c": r"$c = \eta_d \eta_g n q^2 / \sigma^2$",
    "generator_rate": r"generator-visible rate $|z|$",
    "spectral_radius": r"spectral radius $\rho$",
}

_RC = {
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def style():
    """A matplotlib ``rc_context`` with the project's figure style (single-column friendly)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.rc_context(_RC)


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 3.4, height: float | None = None,
               **kwargs):
    """Create ``(fig, axes)`` sized for a single column (3.4 in) unless ``width`` is given."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if height is None:
        height = width * 0.75 * nrows / ncols
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), constrained_layout=True,
                                 **kwargs)
    return fig, axes


# -- helpers shared by the experiment figures (kernelgda.experiments) -------------------

def regime_handles(regimes=None, *, kind: str = "patch"):
    """Legend handles for regime labels, in :data:`REGIME_COLORS` colours.

    ``kind="patch"`` gives filled squares (for maps), ``"marker"`` round markers
    (for scatter plots) and ``"line"`` short lines.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = list(REGIME_COLORS) if regimes is None else list(regimes)
    if kind == "patch":
        return [Patch(facecolor=REGIME_COLORS[r], edgecolor="none", label=r) for r in names]
    if kind == "line":
        return [Line2D([], [], color=REGIME_COLORS[r], label=r) for r in names]
    return [Line2D([], [], ls="", marker="o", color=REGIME_COLORS[r], label=r) for r in names]


def regime_cmap():
    """``(cmap, norm)`` mapping regime codes 0..5 (and -1, undetermined, white) to their colours."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from .regimes import REGIMES

    colors = ["white"] + [REGIME_COLORS[r] for r in REGIMES]
    bounds = [c - 0.5 for c in range(-1, len(REGIMES) + 1)]
    return ListedColormap(colors), BoundaryNorm(bounds, len(colors))


def panel_label(ax, letter: str) -> None:
    """Bold panel letter ``(a)`` in the top-left corner, outside the axes."""
    ax.text(-0.02, 1.02, f"({letter})", transform=ax.transAxes, ha="right", va="bottom",
            fontweight="bold")


# -- phase diagrams (kernelgda.phase) ---------------------------------------------------

def w2_panel(ax, steps, curves, sigmas, title: str, letter: str, *, colors, lw: float = 1.2) -> None:
    """W2^2 against the iteration on a log axis, one colour per kernel width.

    ``curves[i]`` holds the curve(s) of width ``sigmas[i]``: shape ``(K,)`` or ``(trials, K)``
    (every trial drawn, the width labelled once). Zeros are left out of the log axis.
    """
    for i, s in enumerate(sigmas):
        for t, w in enumerate(np.atleast_2d(curves[i])):
            ax.plot(steps, np.where(w > 0, w, np.nan), color=colors[i % len(colors)], lw=lw,
                    label=rf"$\sigma = {s:g}$" if t == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("iteration $k$")
    ax.set_ylabel(r"$W_2^2$")
    ax.set_title(title)
    panel_label(ax, letter)


def _phase_coord(ax, ds, dim, which):
    """Numeric positions of coordinate ``dim`` and the axis scale/label on ``ax`` (``which``: x or y)."""
    import numpy as np

    values = ds[dim].values
    label = SYMBOLS.get(dim, dim)
    set_scale = ax.set_xscale if which == "x" else ax.set_yscale
    set_label = ax.set_xlabel if which == "x" else ax.set_ylabel
    set_label(label)
    if values.dtype.kind not in "fiu":
        pos = np.arange(len(values), dtype=float)
        (ax.set_xticks if which == "x" else ax.set_yticks)(pos, [str(v) for v in values])
        return pos
    if ds[dim].attrs.get("scale") == "log":
        set_scale("log")
    return values.astype(float)


def _regime_map(ax, x, y, codes):
    import numpy as np
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from .regimes import REGIMES

    cmap = ListedColormap(["white"] + [REGIME_COLORS[r] for r in REGIMES])
    norm = BoundaryNorm(np.arange(-1.5, len(REGIMES)), cmap.N)
    ax.pcolormesh(x, y, codes.T, cmap=cmap, norm=norm, shading="nearest")
    return [r for i, r in enumerate(REGIMES) if np.any(codes == i)]


def _draw_boundaries(ax, dims, curves):
    """Closed-form curves of :func:`kernelgda.phase.closed_form_boundaries` in axis order ``dims``."""
    def xy(sigma, lam):
        return (sigma, lam) if dims[0] == "sigma" else (lam, sigma)

    lam, sig = curves["lam"], curves["sigma"]
    ax.plot(*xy(curves["band_low"], lam), color="k", ls="--", lw=0.8, label="complex-pair band")
    ax.plot(*xy(curves["band_high"], lam), color="k", ls="--", lw=0.8)
    if dims[0] == "sigma":
        ax.fill_betweenx(lam, curves["band_low"], curves["band_high"], color="k", alpha=0.08, lw=0)
    else:
        ax.fill_between(lam, curves["band_low"], curves["band_high"], color="k", alpha=0.08, lw=0)
    ax.plot(*xy(curves["divergence"], lam), color="k", lw=1.0, label="divergence line")
    if "best_lam" in curves:
        ax.plot(*xy(sig, curves["best_lam"]), color="w", ls=":", lw=1.2, label="best " + SYMBOLS["lam"])


def phase_figure(ds, boundaries=None, *, title: str | None = None):
    """Figure of a phase diagram from :func:`kernelgda.phase_diagram` (1 or 2 axes).

    Two axes: (a) heat map of the predicted generator-visible rate (values above 1 in
    the divergent colour) with the regime boundaries as white lines, (b) the predicted
    regime regions, and for a simulated diagram (c) the measured regimes. One axis:
    the predicted rate against the parameter, coloured by regime, with the measured
    rates as crosses. ``boundaries`` (from :func:`kernelgda.phase.closed_form_boundaries`)
    are drawn on every map panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For a diagram with three axes (the data has no two-dimensional picture).
    """
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    dims = tuple(ds["regime"].dims)
    if len(dims) not in (1, 2):
        raise ValueError(f"phase_figure draws diagrams with 1 or 2 axes; this one has {len(dims)} "
                         f"({', '.join(dims)})")
    for dim in dims:  # an axis given out of order is drawn in order (cell edges need monotone centres)
        values = ds[dim].values
        if values.dtype.kind in "fiu" and values.size > 1 and not (
                np.all(np.diff(values) >= 0) or np.all(np.diff(values) <= 0)):
            ds = ds.sortby(dim)
    measured = "measured_regime" in ds
    rate = ds["generator_rate"].values
    codes = ds["regime"].values.astype(int)
    with style():
        if len(dims) == 1:
            fig, ax = new_figure(width=3.6)
            x = _phase_coord(ax, ds, dims[0], "x")
            ax.plot(x, rate, color="0.6", lw=0.8, zorder=1)
            from .regimes import REGIMES

            for i, name in enumerate(REGIMES):
                sel = codes == i
                if sel.any():
                    ax.scatter(x[sel], rate[sel], s=10, color=REGIME_COLORS[name], label=name, zorder=2)
            if measured:
                ax.scatter(x, ds["measured_rate"].values, s=14, marker="x", color="k", lw=0.7,
                           label="measured", zorder=3)
            ax.axhline(1.0, color="0.3", lw=0.6, ls=":")
            ax.set_ylabel(SYMBOLS["generator_rate"])
            if ax.get_legend_handles_labels()[0]:
                ax.legend(frameon=False)
            else:  # every cell undetermined (no fixed point): say so instead of an empty legend
                ax.text(0.5, 0.5, "no cell has a fixed point", transform=ax.transAxes, ha="center")
        else:
            panels = 3 if measured else 2
            fig, axes = new_figure(1, panels, width=3.3 * panels, height=3.0)
            import matplotlib

            cmap = matplotlib.colormaps["viridis"].with_extremes(over=REGIME_COLORS["divergent"], bad="white")
            finite = rate[np.isfinite(rate)]
            vmin = float(min(finite.min(), 0.999)) if finite.size else 0.0
            ax = axes[0]
            x = _phase_coord(ax, ds, dims[0], "x")
            y = _phase_coord(ax, ds, dims[1], "y")
            mesh = ax.pcolormesh(x, y, rate.T, cmap=cmap, vmin=vmin, vmax=1.0, shading="nearest")
            fig.colorbar(mesh, ax=ax, extend="max", label=SYMBOLS["generator_rate"])
            if len(np.unique(codes)) > 1 and len(x) > 1 and len(y) > 1:
                ax.contour(x, y, codes.T, levels=np.arange(-0.5, 6), colors="w", linewidths=0.5)
            ax.set_title("predicted rate")
            maps = [(axes[1], codes, f"predicted regime (tol {ds['regime'].attrs.get('tol', 1e-6):g})")]
            if measured:
                maps.append((axes[2], ds["measured_regime"].values.astype(int),
                             f"measured regime (tol {ds['measured_regime'].attrs.get('tol', 1e-3):g})"))
            present = set()
            for axm, cm, text in maps:
                xm = _phase_coord(axm, ds, dims[0], "x")
                ym = _phase_coord(axm, ds, dims[1], "y")
                present |= set(_regime_map(axm, xm, ym, cm))
                axm.set_title(text)
            handles = [Patch(facecolor=REGIME_COLORS[r], label=r) for r in REGIME_COLORS if r in present]
            if boundaries is not None:
                for axb in axes:
                    lims = axb.get_xlim(), axb.get_ylim()
                    _draw_boundaries(axb, dims, boundaries)
                    axb.set_xlim(*lims[0])
                    axb.set_ylim(*lims[1])
                band = "complex-pair band" + (" = best-" + SYMBOLS["sigma"] + " window"
                                              if "best_lam" in boundaries else "")
                handles += [Line2D([], [], color="k", ls="--", lw=0.8, label=band),
                            Line2D([], [], color="k", lw=1.0, label="divergence line")]
                if "best_lam" in boundaries:
                    handles.append(Line2D([], [], color="0.5", ls=":", lw=1.2,
                                          label="best " + SYMBOLS["lam"]))
            axes[-1].legend(handles=handles, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        if title:
            fig.suptitle(title)
    return fig
