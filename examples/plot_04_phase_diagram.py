"""
Phase diagrams: predicted against simulated
===========================================

``kg.phase_diagram`` maps the regimes of theory section 6 over a grid of parameters. With
``method="theory"`` it uses the closed forms; with ``method="simulate"`` it runs the exact
dynamics of every cell from a small perturbation of the fixed point (all cells advance
together) and fits the rate. ``kg.compare`` says how often the measured regime is the
predicted one.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import kernelgda as kg

QUICK = os.environ.get("KERNELGDA_EXAMPLE_QUICK") == "1"
num, steps = (6, 300) if QUICK else (16, 1000)

axes = {"sigma": np.geomspace(0.05, 1.0, num), "lam": np.geomspace(0.05, 5.0, num)}
fixed = {"eta_d": 0.1, "eta_g": 0.1, "p": 1.0, "q": 0.8}
theory = kg.phase_diagram(axes, fixed, method="theory")
measured = kg.phase_diagram(axes, fixed, method="simulate", num_steps=steps)
print(kg.compare(theory, measured))

# %%
# Predicted and measured rates side by side.
fig, panels = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
for ax, data, title in zip(panels, (theory.generator_rate, measured.measured_rate),
                           ("predicted (closed form)", "measured (exact runs)"), strict=True):
    mesh = ax.pcolormesh(axes["sigma"], axes["lam"], data.transpose("lam", "sigma"),
                         shading="auto", vmin=0.5, vmax=1.0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sigma")
    ax.set_title(title)
panels[0].set_ylabel("lam")
fig.colorbar(mesh, ax=panels, label="generator-visible rate")
