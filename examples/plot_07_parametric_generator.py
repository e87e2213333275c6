"""
A parametric generator
======================

Real GANs move the parameters ``theta`` of a generator ``y_j = G(theta, z_j)``, not the points
(theory section 12). A small tanh MLP maps three fixed latent codes to 1-D points; every
update rule acts on ``theta`` through the generator's vector-Jacobian product. At the fixed
point the linearization on ``(B, t)`` predicts the local rate.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

import kernelgda as kg
from kernelgda.generators import MLP

QUICK = os.environ.get("KERNELGDA_EXAMPLE_QUICK") == "1"
steps = 100 if QUICK else 1500

x = np.array([[-1.0], [0.0], [1.2]])
gan = kg.KernelGAN(x, 1 / 3, kg.Gaussian(sigma=0.5), lam=1.0)
gen = MLP(np.random.default_rng(3).standard_normal((3, 2)), d=1, hidden=(3,), activation="tanh", seed=1)
gda = kg.GDA(0.1, 0.2)
traj = kg.simulate(gan, gda, gen, 1 / 3, steps)
eq = kg.find_equilibrium(gan, gen, 1 / 3)
lin = kg.linearize(gan, eq, gda)
print(f"{eq.gradient_kind}; predicted local rate {lin.generator_rate:.6f}; "
      f"{traj.theta.shape[1]} parameters")

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.plot(traj.steps, traj.y[:, :, 0])
for xi in x[:, 0]:
    left.axhline(xi, color="0.6", lw=0.8, ls="--")
left.set_xlabel("step k")
left.set_ylabel("generated points G(theta_k, z_j)")
steps_w, w2 = traj.wasserstein2(x, 1 / 3, every=5)
right.semilogy(steps_w, w2)
right.set_xlabel("step k")
right.set_ylabel("W2^2 to the data")
fig.tight_layout()
