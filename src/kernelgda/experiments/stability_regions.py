"""Stability regions of the update rules in the complex mu-plane (theory section 8).

Simultaneous GDA, extragradient, optimistic GDA and heavy-ball momentum
(``beta`` in {-0.3, 0, 0.3}) map every eigenvalue ``mu`` of the linearized field
``M = D A`` to step eigenvalues; a kernel GAN converges under a rule iff all its
``mu`` lie inside the rule's region. Overlaid: the ``mu`` of isolated kernel GANs
(one true point, one generated point) as ``sigma`` sweeps ``[0.01, 10]`` for a
few ``lam``, coloured by ``sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..isolated import field_eigenvalues
from ..rules import in_stability_region, stability_region, z_of_mu
from ._base import Result, no_progress

NAME = "stability-regions"
DESCRIPTION = "Stability regions of GDA, extragradient, optimistic and momentum in the mu-plane (section 8)"

#: Panels: (label, mode, beta).
PANELS = (("simultaneous", "simultaneous", 0.0), ("extragradient", "extragradient", 0.0),
          ("optimistic", "optimistic", 0.0), ("momentum, beta = -0.3", "momentum", -0.3),
          ("momentum, beta = 0", "momentum", 0.0), ("momentum, beta = 0.3", "momentum", 0.3))


@dataclass(frozen=True)
class Config:
    """Settings: learning rates and weights of the overlaid isolated GANs, the sweeps, the grid."""

    eta_d: float = 0.1
    eta_g: float = 0.1
    p: float = 1.0
    q: float = 0.8
    lams: tuple = (0.01, 0.3, 3.0)
    sigma_min: float = 0.01
    sigma_max: float = 10.0
    num_sigma: int = 400
    grid: int = 401
    extent: tuple = (-3.0, 1.0, -2.0, 2.0)


QUICK = Config(num_sigma=80, grid=121)


def compute(config: Config = Config(), *, progress=no_progress) -> Result:
    """Region masks on a mu grid, their boundaries, and the mu curves of isolated GANs."""
    x0, x1, y0, y1 = config.extent
    re = np.linspace(x0, x1, config.grid)
    im = np.linspace(y0, y1, config.grid)
    mu_grid = re[None, :] + 1j * im[:, None]
    sigma = np.geomspace(config.sigma_min, config.sigma_max, config.num_sigma)
    lams = np.asarray(config.lams, dtype=float)
    mu = field_eigenvalues(p=config.p, q=config.q, n=1, eta_d=config.eta_d, eta_g=config.eta_g,
                           lam=lams[:, None], sigma=sigma[None, :])[..., :2]  # (lam, sigma, 2)
    masks, inside_frac = [], []
    bnd_len = 2001
    boundaries = np.full((len(PANELS), 2, bnd_len), np.nan + 0j)
    for i, (_, mode, beta) in enumerate(progress(PANELS, total=len(PANELS), desc=NAME)):
        masks.append(np.abs(z_of_mu(mu_grid, mode, beta)).max(axis=-1))
        inside_frac.append(float(in_stability_region(mu, mode, beta).mean()))
        for j, curve in enumerate(stability_region(mode, beta, num=bnd_len)[:2]):
            boundaries[i, j] = curve
    summary = {f"fraction_inside_{label.replace(' ', '').replace(',', '_')}": f
               for (label, _, _), f in zip(PANELS, inside_frac, strict=True)}
    return Result(
        name=NAME, config=config,
        data={"max_modulus": (("rule", "im_mu", "re_mu"), np.array(masks)),
              "boundary": (("rule", "piece", "point"), boundaries),
              "mu": (("lam", "sigma", "root"), mu)},
        coords={"rule": np.array([label for label, _, _ in PANELS]), "re_mu": re,
                "im_mu": im, "lam": lams, "sigma": sigma, "root": np.arange(2),
                "piece": np.arange(2), "point": np.arange(bnd_len)},
        summary=summary,
        caption=("Stability regions (shaded; boundary where the largest step root has modulus 1) "
                 "of six update rules in the complex plane of the field eigenvalues mu = eig(D A) "
                 "(theory section 8), with the coupled-pair mu of an "
                 f"isolated kernel GAN (p = {config.p}, q = {config.q}, eta_d = {config.eta_d}, "
                 f"eta_g = {config.eta_g}) as sigma sweeps [{config.sigma_min}, {config.sigma_max}] "
                 "(colour) for several lam (line style). A rule converges iff every mu is inside."))


def plot(result: Result):
    """Six panels, one per rule: shaded region (every step root inside the unit circle), its
    boundary, and the mu curves coloured by sigma."""
    import matplotlib.colors as mcolors

    from ..plotting import SYMBOLS, new_figure, panel_label

    cfg = result.config
    fig, axes = new_figure(2, 3, width=7.0, height=4.6, sharex=True, sharey=True)
    re, im = result["re_mu"], result["im_mu"]
    sigma, lams, mu = result["sigma"], result["lam"], result["mu"]
    norm = mcolors.LogNorm(sigma.min(), sigma.max())
    styles = ("-", "--", ":")
    sc = None
    for i, ax in enumerate(axes.ravel()):
        mod = result["max_modulus"][i]
        ax.contourf(re, im, mod, levels=[0.0, 1.0], colors=["#dbe9f6"])
        ax.contour(re, im, mod, levels=[1.0], colors=["#08519c"], linewidths=1.0)
        for k in range(lams.size):
            for r in range(2):
                ax.plot(mu[k, :, r].real, mu[k, :, r].imag, color="0.55", lw=0.6, ls=styles[k % 3],
                        zorder=2)
                sc = ax.scatter(mu[k, ::4, r].real, mu[k, ::4, r].imag, c=sigma[::4], norm=norm,
                                cmap="viridis", s=3, zorder=3, linewidths=0)
        ax.axhline(0, color="0.8", lw=0.5, zorder=0)
        ax.axvline(0, color="0.8", lw=0.5, zorder=0)
        ax.set_xlim(re[0], re[-1])
        ax.set_ylim(im[0], im[-1])
        ax.set_title(str(result["rule"][i]).replace("beta", r"$\beta$"))
        panel_label(ax, "abcdef"[i])
    for ax in axes[-1]:
        ax.set_xlabel(r"Re $\mu$")
    for ax in axes[:, 0]:
        ax.set_ylabel(r"Im $\mu$")
    cb = fig.colorbar(sc, ax=axes, shrink=0.8, pad=0.01)
    cb.set_label(SYMBOLS["sigma"])
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="0.4", ls=styles[k % 3], label=rf"$\lambda$ = {lam:g}")
               for k, lam in enumerate(lams)]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle(rf"$\eta_d$ = {cfg.eta_d:g}, $\eta_g$ = {cfg.eta_g:g}, $p$ = {cfg.p:g}, $q$ = {cfg.q:g}")
    return fig
