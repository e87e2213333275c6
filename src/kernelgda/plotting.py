"""Figures from results: no computation, no file I/O.

Matplotlib is imported lazily so that ``import kernelgda`` stays fast. Every
figure uses the same colour for a regime (:data:`REGIME_COLORS`) and the paper's
symbols in mathtext (:data:`SYMBOLS`).
"""

from __future__ import annotations

__all__ = ["REGIME_COLORS", "SYMBOLS", "style", "new_figure"]

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
