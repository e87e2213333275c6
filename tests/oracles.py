"""Independent reference implementations for the tests.

Everything here is written from ``docs/theory.md`` alone and never calls the code
under test: kernels are read only for their parameters (``kernel.name`` and
``kernel.params()``), never evaluated. The references are deliberately
straightforward (explicit loops or plain broadcasting, closed forms from the
unrolled recursion) so that they share no shortcut with the library
(matrix-product kernel sums, incremental history buffers, merged locations).

Contents
--------
- kernel values and gradients from the formulas of theory section 1
  (:func:`kernel_value`, :func:`kernel_grad_u`), naive double-loop kernel sums
  (:func:`naive_value_sum`, :func:`naive_grad_sum`); the ReLU NNGP kernel of theory
  section 10 layer by layer (:func:`nngp_direct`) and its complex-step gradient;
- central finite differences (:func:`fd_gradient`, :func:`fd_jacobian`);
- the exact GDA dynamics re-evaluated from the unrolled expansion of theory
  section 2 at every step (:func:`naive_simulate`, :func:`naive_fgrad`);
- every update rule of theory section 8 applied literally to ``z = (f, Y)``, with
  ``f`` a dictionary of kernel-expansion terms evaluated point by point
  (:func:`naive_rule_simulate`);
- the exact one-step map on the reduced state ``(B, e)`` of theory section 4
  (:func:`reduced_step_map`) and its finite-difference Jacobian
  (:func:`fd_reduced_jacobian`);
- the isolated model's eigenvalue moduli in 2,000-digit decimal arithmetic
  (:func:`isolated_moduli_decimal`), for parameters far outside the float64 range;
- multiset matching of eigenvalues (:func:`match_eigenvalues`).
"""

from __future__ import annotations

import cmath
import math

import numpy as np

# -- kernels, theory section 1 ------------------------------------------------------------


def length_scale(kernel) -> float:
    """The bandwidth ``sigma`` (the smallest one of a multiscale kernel), from the parameters."""
    prm = kernel.params()
    return float(prm["sigma"]) if "sigma" in prm else float(min(prm["sigmas"]))


def kernel_value(kernel, u, v) -> float:
    """``K(u, v)`` for one pair of points, from the formulas of theory section 1."""
    prm = kernel.params()
    r = np.asarray(u, dtype=float) - np.asarray(v, dtype=float)
    s = float(r @ r)
    kind = prm["kind"]
    if kind == "gaussian":
        return math.exp(-s / (2.0 * prm["sigma"] ** 2))
    if kind == "rational_quadratic":
        a = prm["alpha"]
        return (1.0 + s / (2.0 * a * prm["sigma"] ** 2)) ** (-a)
    if kind == "laplacian":
        return math.exp(-math.sqrt(s) / prm["sigma"])
    if kind == "multiscale":
        return sum(w * math.exp(-s / (2.0 * sg**2))
                   for sg, w in zip(prm["sigmas"], prm["scale_weights"], strict=True))
    if kind == "nngp":
        return float(nngp_direct(np.asarray(u, dtype=float), np.asarray(v, dtype=float),
                                 prm["depth"], prm["bias"]).real)
    raise ValueError(f"no oracle for kernel {kind!r}")


def kernel_grad_u(kernel, u, v) -> np.ndarray:
    """``d/du K(u, v)`` for one pair, differentiated by hand from theory section 1.

    Gaussian ``-r K / sigma^2``; rational quadratic ``-r / sigma^2 b^(-alpha-1)``
    with ``b = 1 + |r|^2 / (2 alpha sigma^2)``; Laplacian ``-K r / (sigma |r|)``
    (0 at ``r = 0``, the symmetric subgradient); multiscale: sum of Gaussians.
    """
    prm = kernel.params()
    r = np.asarray(u, dtype=float) - np.asarray(v, dtype=float)
    s = float(r @ r)
    kind = prm["kind"]
    if kind == "gaussian":
        sg = prm["sigma"]
        return -r / sg**2 * math.exp(-s / (2.0 * sg**2))
    if kind == "rational_quadratic":
        sg, a = prm["sigma"], prm["alpha"]
        return -r / sg**2 * (1.0 + s / (2.0 * a * sg**2)) ** (-a - 1.0)
    if kind == "laplacian":
        if s == 0.0:
            return np.zeros_like(r)
        dist = math.sqrt(s)
        return -r / (prm["sigma"] * dist) * math.exp(-dist / prm["sigma"])
    if kind == "multiscale":
        out = np.zeros_like(r)
        for sg, w in zip(prm["sigmas"], prm["scale_weights"], strict=True):
            out += -w * r / sg**2 * math.exp(-s / (2.0 * sg**2))
        return out
    if kind == "nngp":
        if s > 1e-12 * (1.0 + float(np.dot(u, u))):
            return nngp_grad_complex_step(u, v, prm["depth"], prm["bias"])
        # At (nearly) coincident points acos is at its branch point: central differences
        # (the kernel is C^2 there; error ~h^2 + eps / h ~ 1e-10).
        return fd_gradient(lambda x: kernel_value(kernel, x, v), np.asarray(u, dtype=float), 1e-6)
    raise ValueError(f"no oracle for kernel {kind!r}")


def nngp_direct(u, v, depth: int, bias: float):
    """ReLU NNGP ``S_depth(u, v)`` layer by layer from theory section 10 (real or complex input).

    Written with ``cmath`` so that it also takes complex arguments: the complex-step
    derivative ``Im K(u + i h e_k, v) / h`` (:func:`nngp_grad_complex_step`) is then exact to
    rounding wherever the angle ``t`` is not 0 (``acos`` is analytic away from ``+-1``).
    """
    u = np.asarray(u)
    v = np.asarray(v)
    d = u.shape[0]
    b2 = bias * bias
    suu = sum(x * x for x in u) / d + b2
    svv = sum(x * x for x in v) / d + b2
    suv = sum(x * y for x, y in zip(u, v, strict=True)) / d + b2
    for _ in range(depth):
        norm = cmath.sqrt(suu * svv)
        t = cmath.acos(suv / norm)
        suv = norm * (cmath.sin(t) + (math.pi - t) * cmath.cos(t)) / math.pi + b2
        suu, svv = suu + b2, svv + b2
    return suv


def nngp_grad_complex_step(u, v, depth: int, bias: float, h: float = 1e-30) -> np.ndarray:
    """``grad_u K(u, v)`` of the NNGP by complex steps on :func:`nngp_direct` (``u != v``)."""
    u = np.asarray(u, dtype=complex)
    out = np.empty(u.shape[0])
    for k in range(u.shape[0]):
        up = u.copy()
        up[k] += 1j * h
        out[k] = nngp_direct(up, v, depth, bias).imag / h
    return out


def naive_value_sum(kernel, y, z, w) -> np.ndarray:
    """``sum_c w_c K(y_a, z_c)`` by a double loop, shape ``(n,)``."""
    y, z = np.atleast_2d(y), np.atleast_2d(z)
    out = np.zeros(y.shape[0])
    for a in range(y.shape[0]):
        for c in range(z.shape[0]):
            out[a] += w[c] * kernel_value(kernel, y[a], z[c])
    return out


def naive_grad_sum(kernel, y, z, w) -> np.ndarray:
    """``grad f(y_a)`` of ``f = sum_c w_c K(., z_c)`` by a double loop, shape ``(n, d)``."""
    y, z = np.atleast_2d(y), np.atleast_2d(z)
    out = np.zeros(y.shape)
    for a in range(y.shape[0]):
        for c in range(z.shape[0]):
            out[a] += w[c] * kernel_grad_u(kernel, y[a], z[c])
    return out


def grad_expansion(kernel, y, z, w) -> np.ndarray:
    """Same as :func:`naive_grad_sum` by plain broadcasting over an ``(n, M, d)`` array.

    Used where the double loop would be too slow (Gaussian, rational quadratic
    and multiscale kernels only). It evaluates the hand-derived formulas of
    :func:`kernel_grad_u` on all pairs at once, without the library's
    matrix-product form.
    """
    prm = kernel.params()
    r = y[:, None, :] - z[None, :, :]
    s = (r * r).sum(-1)
    kind = prm["kind"]
    if kind == "gaussian":
        scale = -np.exp(-s / (2.0 * prm["sigma"] ** 2)) / prm["sigma"] ** 2
    elif kind == "rational_quadratic":
        sg, a = prm["sigma"], prm["alpha"]
        scale = -(1.0 + s / (2.0 * a * sg**2)) ** (-a - 1.0) / sg**2
    elif kind == "multiscale":
        scale = sum(-wt * np.exp(-s / (2.0 * sg**2)) / sg**2
                    for sg, wt in zip(prm["sigmas"], prm["scale_weights"], strict=True))
    else:
        return naive_grad_sum(kernel, y, z, w)
    return np.einsum("nm,nmd,m->nd", scale, r, w)


# -- finite differences -------------------------------------------------------------------


def fd_gradient(fun, x, h: float) -> np.ndarray:
    """Central differences of a scalar function of a vector: ``(f(x + h e_i) - f(x - h e_i)) / 2h``.

    Truncation error ``h^2 |f'''| / 6``, rounding error ``eps |f| / h``.
    """
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.size)
    for i in range(x.size):
        dx = np.zeros(x.size)
        dx[i] = h
        out[i] = (fun(x + dx.reshape(x.shape)) - fun(x - dx.reshape(x.shape))) / (2.0 * h)
    return out


def fd_jacobian(fun, x, h) -> np.ndarray:
    """Central-difference Jacobian of a vector function.

    ``J[:, i] = (F(x + h_i e_i) - F(x - h_i e_i)) / 2 h_i``; ``h`` is a scalar or
    one step per coordinate.
    """
    x = np.asarray(x, dtype=float).ravel()
    h = np.broadcast_to(np.asarray(h, dtype=float), x.shape)
    cols = []
    for i in range(x.size):
        dx = np.zeros(x.size)
        dx[i] = h[i]
        cols.append((np.ravel(fun(x + dx)) - np.ravel(fun(x - dx))) / (2.0 * h[i]))
    return np.array(cols).T


# -- exact dynamics, theory section 2 -----------------------------------------------------


def fstar_grad(kernel, x, p, lam, ystar, q, pts) -> np.ndarray:
    """``grad f*(pts)`` with ``f* = (K(., X) p - K(., Y*) q) / lam`` (theory section 3)."""
    return (grad_expansion(kernel, pts, x, p) - grad_expansion(kernel, pts, ystar, q)) / lam


def naive_fgrad(kernel, x, p, lam, eta_d, q, history, k, pts, fstar_y=None) -> np.ndarray:
    """``grad f^k(pts)`` from the unrolled expansion of theory section 2, rebuilt from scratch.

    ``f^k = (1-a)^k f^0 + sum_{s<k} eta_d (1-a)^(k-1-s) (K(., X) p - K(., Y^s) q)``
    with ``a = eta_d lam``; the true-point coefficient is
    ``(1 - (1-a)^k) / lam`` (``eta_d k`` when ``lam = 0``). ``history[s]`` is
    ``Y^s``; ``f^0 = 0``, or ``f*`` of the fixed point ``fstar_y`` (needs
    ``lam > 0``; with ``lam = 0`` and a perfect match ``f* = 0``).
    """
    a = eta_d * lam
    decay = 1.0 - a
    c_true = eta_d * k if lam == 0 else (1.0 - decay**k) / lam
    centres = [x]
    coefs = [c_true * p]
    if k > 0:
        centres.append(np.concatenate(history[:k]))
        coefs.append(np.concatenate([-eta_d * decay ** (k - 1 - s) * q for s in range(k)]))
    if fstar_y is not None and lam > 0:
        centres += [x, fstar_y]
        coefs += [decay**k / lam * p, -(decay**k) / lam * q]
    return grad_expansion(kernel, pts, np.concatenate(centres), np.concatenate(coefs))


def naive_simulate(kernel, x, p, lam, eta_d, eta_g, mode, y0, q, num_steps, fstar_y=None
                   ) -> np.ndarray:
    """Exact GDA (theory section 2) re-evaluating ``grad f^k`` from its definition every step.

    simultaneous: ``y^{k+1} = y^k + eta_g q grad f^k(y^k)``;
    alternating: ``y^{k+1} = y^k + eta_g q grad f^{k+1}(y^k)``.
    Returns ``Y^0..Y^T``, shape ``(T + 1, n, d)``. Cost ``O(T^2 n^2 d)`` with no
    shortcut: every step rebuilds the whole expansion.
    """
    y = np.array(y0, dtype=float)
    history = [y]
    for k in range(num_steps):
        kk = k + 1 if mode == "alternating" else k
        g = naive_fgrad(kernel, x, p, lam, eta_d, q, history, kk, y, fstar_y)
        y = y + eta_g * q[:, None] * g
        history.append(y)
    return np.array(history)


def complex_step_jacobian(fun, theta, h: float = 1e-30) -> np.ndarray:
    """``d fun / d theta`` (rows: the raveled output) by the complex step, one column per parameter."""
    theta = np.asarray(theta, dtype=float)
    cols = []
    for k in range(theta.size):
        t = theta.astype(complex)
        t[k] += 1j * h
        cols.append(np.imag(np.asarray(fun(t))).ravel() / h)
    return np.stack(cols, axis=1)


def naive_rule_simulate(kernel, x, p, lam, eta_d, eta_g, mode, y0, q, num_steps, *, beta=0.0,
                        d_steps=1, fstar_y=None, points_fn=None) -> np.ndarray:
    """Every update rule of theory section 8, written as the table there reads.

    The state is ``z = (f, Y)`` with the field

        F_D(f, Y) = K(., X) p - K(., Y) q - lam f,    F_G(f, Y)_j = q_j grad f(y_j)

    and ``eta`` acting as ``eta_d`` on ``f`` and ``eta_g`` on ``Y``:

    - simultaneous: ``z' = z + eta F(z)``;
    - alternating with ``d_steps = k``: ``k`` times ``f <- f + eta_d F_D(f, Y)``, then
      ``Y' = Y + eta_g F_G(f', Y)``;
    - extragradient: ``z_half = z + eta F(z)``, ``z' = z + eta F(z_half)``;
    - optimistic: ``z' = z + eta (2 F(z_k) - F(z_{k-1}))``, ``F(z_{-1}) = F(z_0)``;
    - momentum: ``v' = beta v + F(z)``, ``z' = z + eta v'``, ``v_0 = 0``.

    A function (``f``, a field direction or a velocity) is a dictionary from a centre set
    (the true points, or one generated configuration: ``Y^k``, ``Y_half``) to its weight
    vector, combined linearly key by key; gradients are evaluated centre set by centre set
    with :func:`grad_expansion`. Nothing is unrolled, rescaled or truncated. ``f^0 = 0``,
    or ``f*`` of the fixed point ``fstar_y`` (``lam > 0``). Returns ``Y^0..Y^T``.

    With ``points_fn`` (a parametric generator ``Y = points_fn(theta)``, theory section 12),
    ``y0`` is ``theta^0``, the generator's field is pulled back, ``F_G = J(theta)^T vec(q grad f(Y))``
    with ``J`` by the complex step of ``points_fn`` (:func:`complex_step_jacobian`), and every
    rule acts on ``theta``; the returned rows are still the points ``Y^k``.
    """
    centres = {"X": np.asarray(x, dtype=float)}
    q = np.asarray(q, dtype=float)

    def combine(*terms):  # sum of c * g over (c, g)
        out = {}
        for c, g in terms:
            for key, w in g.items():
                out[key] = out.get(key, 0.0) + c * w
        return out

    def grad(g, pts):
        out = np.zeros(pts.shape)
        for key, w in g.items():
            out += grad_expansion(kernel, pts, centres[key], w)
        return out

    def at(y):  # a new centre set holding the configuration y
        key = len(centres)
        centres[key] = np.array(y, dtype=float)
        return key

    def pts(s):  # the points of the generator state
        return s if points_fn is None else np.asarray(points_fn(s))

    def field(g, s):  # (F_D, F_G) at z = (g, s)
        y = pts(s)
        fg = q[:, None] * grad(g, y)
        if points_fn is not None:
            fg = complex_step_jacobian(points_fn, s).T @ fg.ravel()
        return combine((1.0, {"X": p}), (1.0, {at(y): -q}), (-lam, g)), fg

    def move(g, y, c, fd, fg):  # z + c eta (fd, fg)
        return combine((1.0, g), (c * eta_d, fd)), y + c * eta_g * fg

    f = {}
    if fstar_y is not None and lam > 0:
        f = {"X": p / lam, at(fstar_y): -q / lam}
    y = np.array(y0, dtype=float)
    history = [pts(y)]
    prev = None
    v = ({}, np.zeros_like(y))
    for _ in range(num_steps):
        if mode == "simultaneous":
            f, y = move(f, y, 1.0, *field(f, y))
        elif mode == "alternating":
            for _ in range(d_steps):
                f = combine((1.0, f), (eta_d, field(f, y)[0]))
            y = y + eta_g * field(f, y)[1]
        elif mode == "extragradient":
            f_half, y_half = move(f, y, 1.0, *field(f, y))
            f, y = move(f, y, 1.0, *field(f_half, y_half))
        elif mode == "optimistic":
            now = field(f, y)
            prev = now if prev is None else prev
            f, y = move(f, y, 1.0, combine((2.0, now[0]), (-1.0, prev[0])), 2.0 * now[1] - prev[1])
            prev = now
        elif mode == "momentum":
            fd, fg = field(f, y)
            v = (combine((beta, v[0]), (1.0, fd)), beta * v[1] + fg)
            f, y = move(f, y, 1.0, *v)
        else:
            raise ValueError(f"no oracle for mode {mode!r}")
        history.append(pts(y))
    return np.array(history)


# -- the exact one-step map on the reduced state, theory section 4 -----------------------


def merge_locations(ystar, scale, tol=1e-8):
    """Distinct locations among the rows of ``ystar`` (first occurrence order) and the index map."""
    locs, index = [], []
    for yj in ystar:
        for l, u in enumerate(locs):
            if np.linalg.norm(yj - u) <= tol * scale:
                index.append(l)
                break
        else:
            index.append(len(locs))
            locs.append(yj)
    return np.array(locs), np.array(index)


def reduced_step_map(kernel, x, p, lam, eta_d, eta_g, mode, ystar, q, *, points_fn=None, theta_star=None):
    """The exact nonlinear one-step map ``(B, e) -> (B', e')`` near a fixed point ``(f*, Y*)``.

    Construction (independent of the library's Jacobian):

    - The discriminator perturbation ``g`` is *realised* as a concrete smooth
      function with ``grad g(u_l) = B_l``:
      ``g(u) = sum_l (B_l . (u - u_l)) exp(-|u - u_l|^2 / (2 tau^2))`` with ``tau``
      a tenth of the smallest distance between distinct locations (and at most
      ``sigma / 4``), so that every bump is negligible (``exp(-50)``) at the
      other locations. Its gradient at ``u_l`` is exactly ``B_l`` and its Hessian
      there is zero. ``g`` need not lie in the RKHS: the update (D) is linear in
      ``f`` and the generator only reads ``grad f``.
    - One exact GDA step from ``(f* + g, Y* + e)`` (theory section 2),
      ``f' = (1 - a)(f* + g) + eta_d (K(., X) p - K(., Y* + e) q)`` and the
      generator step with ``grad (f* + g)`` (simultaneous) or ``grad f'``
      (alternating) at ``Y* + e``, all evaluated in full.
    - The new reduced state is read off as ``B'_l = grad (f' - f*)(u_l)`` and
      ``e' = Y' - Y*``.

    To first order the parts of ``g`` beyond its gradients at the ``u_l`` do not
    feed back (theory section 4), so the derivative of this map at ``(0, 0)`` is
    the Jacobian ``J``. Needs ``lam > 0``.

    With a parametric generator (``points_fn``, ``theta_star``; theory section 12) the state
    is ``(B, t)``: ``Y = points_fn(theta* + t)`` and the generator step is
    ``theta' = theta + eta_g J(theta)^T vec(q grad f(Y))`` with ``J`` by the complex step.

    Returns
    -------
    step : callable
        ``step(z) -> z'`` on the flattened state ``(B_1..B_L, e_1..e_n)``.
    locs : (L, d) array
    """
    sigma = length_scale(kernel)
    locs, _ = merge_locations(ystar, sigma)
    num_l, d = locs.shape
    n = ystar.shape[0]
    if num_l > 1:
        sep = min(np.linalg.norm(locs[i] - locs[j]) for i in range(num_l) for j in range(i))
    else:
        sep = np.inf
    tau = min(sep / 10.0, sigma / 4.0)
    a = eta_d * lam

    def grad_g(bvec, pts):
        out = np.zeros(pts.shape)
        for l in range(num_l):
            r = pts - locs[l]
            w = np.exp(-(r * r).sum(1) / (2.0 * tau**2))
            # grad of (B . r) w = B w + (B . r) grad w,  grad w = -r w / tau^2
            out += bvec[l][None, :] * w[:, None] - (r @ bvec[l])[:, None] * r * w[:, None] / tau**2
        return out

    def grad_fstar(pts):
        return fstar_grad(kernel, x, p, lam, ystar, q, pts)

    def grad_fnew(bvec, y, pts):
        # f' = (1 - a)(f* + g) + eta_d (K(., X) p - K(., Y) q)
        return ((1.0 - a) * (grad_fstar(pts) + grad_g(bvec, pts))
                + eta_d * (grad_expansion(kernel, pts, x, p) - grad_expansion(kernel, pts, y, q)))

    def step(z):
        z = np.asarray(z, dtype=float)
        bvec = z[:num_l * d].reshape(num_l, d)
        if points_fn is None:
            y = ystar + z[num_l * d:].reshape(n, d)
        else:
            theta = theta_star + z[num_l * d:]
            y = np.asarray(points_fn(theta))
        b_new = grad_fnew(bvec, y, locs) - grad_fstar(locs)
        if mode == "simultaneous":
            gy = grad_fstar(y) + grad_g(bvec, y)
        else:
            gy = grad_fnew(bvec, y, y)
        if points_fn is not None:
            move = complex_step_jacobian(points_fn, theta).T @ (q[:, None] * gy).ravel()
            return np.concatenate([b_new.ravel(), theta + eta_g * move - theta_star])
        y_new = y + eta_g * q[:, None] * gy
        return np.concatenate([b_new.ravel(), (y_new - ystar).ravel()])

    return step, locs


def fd_reduced_jacobian(kernel, x, p, lam, eta_d, eta_g, mode, ystar, q, *, h_b=1e-6, h_e=None):
    """Central-difference Jacobian of :func:`reduced_step_map` at ``(B, e) = (0, 0)``.

    ``h_e`` defaults to ``1e-6 sigma``. The map is smooth on the scales ``sigma``
    and ``tau``, so the truncation error (``h^2``) is ~1e-12 relative and the
    rounding error is ``eps |Y*| / h_e`` ~ 1e-10: entries agree with ``J`` to
    about 1e-8 absolute.
    """
    step, locs = reduced_step_map(kernel, x, p, lam, eta_d, eta_g, mode, ystar, q)
    h_e = 1e-6 * length_scale(kernel) if h_e is None else h_e
    nb, ne = locs.size, ystar.size
    h = np.concatenate([np.full(nb, h_b), np.full(ne, h_e)])
    return fd_jacobian(step, np.zeros(nb + ne), h), locs


# -- isolated points model in high-precision decimal arithmetic (theory sections 5 and 8) ----
# Written out from the characteristic polynomials with ``decimal`` at 2,000 digits and an
# unbounded exponent, so it shares no scaling trick with the library and never overflows.


def _dec_sqrt(z):
    """Principal square root of a decimal complex number ``(re, im)``."""
    x, y = z
    if y == 0:
        return (x.sqrt(), 0 * x) if x >= 0 else (0 * x, (-x).sqrt())
    r = (x * x + y * y).sqrt()
    re, im = (max(r + x, 0 * x) / 2).sqrt(), (max(r - x, 0 * x) / 2).sqrt()
    return re, (im if y > 0 else -im)


def _dec_quadratic(b, c):
    """Both roots of ``z^2 + b z + c`` (decimal complex pairs)."""
    disc = _dec_sqrt((b[0] * b[0] - b[1] * b[1] - 4 * c[0], 2 * b[0] * b[1] - 4 * c[1]))
    return [((-b[0] + s * disc[0]) / 2, (-b[1] + s * disc[1]) / 2) for s in (1, -1)]


def isolated_moduli_decimal(*, p, q, n, eta_d, eta_g, lam, sigma, mode, beta=0.0, d_steps=1):
    """Moduli (as decimals) of the isolated model's eigenvalues.

    Returns a dict with ``fixed`` (False for ``lam = 0`` with a mismatch: no fixed point,
    then only ``params`` holds values), ``pair`` (the coupled pair's step eigenvalues), ``spread``
    (``n > 1`` only), ``disc`` (the discriminator modes), ``params`` (``|a|, |kappa|, c``)
    and ``mu`` (the field eigenvalues of the pair; empty for alternating), each a list of
    moduli. Mass mismatch zero within ``1e-12 (p + n q)`` as in the model's definition.
    """
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 2000, 10**9, -(10**9)
        D = Decimal
        p, q, n, eta_d, eta_g, lam, sigma, beta = map(D, (p, q, int(n), eta_d, eta_g, lam, sigma, beta))
        delta = p - n * q
        if abs(delta) <= D("1e-12") * (p + n * q):
            delta = D(0)
        gamma = 1 / (sigma * sigma)
        a = eta_d * lam
        c = eta_d * eta_g * gamma * n * q * q
        if lam == 0 and delta != 0:
            return {"fixed": False, "params": [abs(a), c], "pair": [], "spread": [], "disc": [], "mu": []}
        kappa = eta_g * q * gamma * delta / lam if lam != 0 else D(0)
        zero = D(0)

        def mod(z):
            return (z[0] * z[0] + z[1] * z[1]).sqrt()

        def z_of(mu):
            one = D(1)
            if mode == "simultaneous":
                return [(one + mu[0], mu[1])]
            if mode == "extragradient":
                return [(one + mu[0] + mu[0] * mu[0] - mu[1] * mu[1], mu[1] + 2 * mu[0] * mu[1])]
            if mode == "optimistic":  # z^2 - (1 + 2 mu) z + mu = 0
                return _dec_quadratic((-(one + 2 * mu[0]), -2 * mu[1]), mu)
            return _dec_quadratic((-(one + mu[0] + beta), -mu[1]), (beta, zero))  # momentum

        if mode == "alternating":
            k = int(d_steps)
            dk = (1 - a) ** k
            s_k = (1 - dk) / a if a != 0 else D(k)
            tr, det = dk + 1 - kappa - c * s_k, dk * (1 - kappa)
            pair = _dec_quadratic((-tr, zero), (det, zero))
            out = {"pair": [mod(z) for z in pair], "spread": [abs(1 - kappa)], "disc": [abs(dk)], "mu": []}
        else:
            mus = _dec_quadratic((a + kappa, zero), (a * kappa + c, zero))
            out = {"pair": [mod(z) for mu in mus for z in z_of(mu)],
                   "spread": [mod(z) for z in z_of((-kappa, zero))],
                   "disc": [mod(z) for z in z_of((-a, zero))], "mu": [mod(mu) for mu in mus]}
        if n == 1:
            out["spread"] = []
        out["params"] = [abs(a), abs(kappa), c]
        out["fixed"] = True
        return out


# -- eigenvalue multisets -----------------------------------------------------------------


def match_eigenvalues(computed, expected) -> np.ndarray:
    """Pair each expected eigenvalue with a distinct computed one, greedily by distance.

    Returns the largest pairing distance (``inf`` if the sizes differ). Two
    multisets are equal to ``tol`` when this is at most ``tol`` (for well
    separated eigenvalues the greedy pairing is the optimal one).
    """
    computed = list(np.asarray(computed, dtype=complex).ravel())
    expected = np.asarray(expected, dtype=complex).ravel()
    if len(computed) != expected.size:
        return np.inf
    worst = 0.0
    for z in expected:
        dist = [abs(z - c) for c in computed]
        i = int(np.argmin(dist))
        worst = max(worst, dist[i])
        computed.pop(i)
    return worst


# -- Gaussian bumps and the Gaussian-closure moment model, theory section 11 ---------------


def gaussian_bump(c, m, prec, u):
    """Value, gradient and Hessian of ``b(u) = c exp(-(1/2)(u - m)^T P (u - m))`` at the rows
    of ``u (N, d)``, differentiated by hand: ``grad b = -b P r``, ``Hess b = b (P r r^T P - P)``."""
    r = np.atleast_2d(u) - m
    pr = r @ prec  # P symmetric
    val = c * np.exp(-0.5 * (r * pr).sum(-1))
    grad = -val[:, None] * pr
    hess = val[:, None, None] * (pr[:, :, None] * pr[:, None, :] - prec)
    return val, grad, hess


def bump_moments_literal(c, m, prec, e, cov):
    """``E[b]``, ``E[grad b]``, ``E[Hess b]`` under ``N(e, S)``, the formulas of theory
    section 11 as written: ``B = I + S P``, ``A = B^-1``, ``dm = A (e - m)``."""
    d = len(m)
    bmat = np.eye(d) + cov @ prec
    amat = np.linalg.inv(bmat)
    dm = amat @ (e - m)
    val = c * np.linalg.det(bmat) ** -0.5 * math.exp(-0.5 * (e - m) @ prec @ amat @ (e - m))
    grad = -val * prec @ dm
    hess = val * (prec @ (amat @ cov + np.outer(dm, dm)) @ prec - prec)
    return val, grad, hess


def monte_carlo_bump_moments(c, m, prec, e, cov, num, rng):
    """Sample means and their standard errors of ``b``, ``grad b``, ``Hess b`` over
    ``num`` draws of ``N(e, S)``: ``[(mean, stderr)] * 3``."""
    y = rng.multivariate_normal(e, cov, size=num)
    out = []
    for arr in gaussian_bump(c, m, prec, y):
        out.append((arr.mean(axis=0), arr.std(axis=0) / math.sqrt(num)))
    return out


def naive_gaussian_closure(scales, x, p, lam, eta_d, eta_g, mode, mean0, cov0, num_points, q,
                           num_steps):
    """The Gaussian closure of theory section 11 with ``f0 = 0``, one bump at a time.

    ``scales`` is ``[(sigma_s, w_s)]``: a multiscale kernel is the sum of its single-scale
    Gaussians, each kernel section averaged over ``N(e, S)`` giving the bump
    ``c = det(I + S / sigma^2)^(-1/2)``, ``P = (sigma^2 I + S)^(-1)``. The discriminator is a
    Python list of ``[weight, c, m, P]``; moments from :func:`bump_moments_literal`.
    Returns means ``(T + 1, J, d)`` and covariances ``(T + 1, J, d, d)``.
    """
    e, s = np.array(mean0, dtype=float), np.array(cov0, dtype=float)
    num, d = e.shape
    mass = np.asarray(num_points, dtype=float) * q
    eye = np.eye(d)
    bumps = []
    means, covs = [e.copy()], [s.copy()]

    def field(e, s):
        grads, hesses = np.zeros((num, d)), np.zeros((num, d, d))
        for j in range(num):
            for w, c, m, prec in bumps:
                _, g, h = bump_moments_literal(c, m, prec, e[j], s[j])
                grads[j] += w * g
                hesses[j] += w * h
        return grads, hesses

    for _ in range(num_steps):
        if mode == "simultaneous":
            grads, hesses = field(e, s)
        for bump in bumps:
            bump[0] *= 1.0 - eta_d * lam
        for sg, wt in scales:
            for i in range(len(x)):
                bumps.append([eta_d * p[i] * wt, 1.0, x[i], eye / sg**2])
            for j in range(num):
                c = np.linalg.det(eye + s[j] / sg**2) ** -0.5
                bumps.append([-eta_d * mass[j] * wt, c, e[j].copy(),
                              np.linalg.inv(sg**2 * eye + s[j])])
        if mode == "alternating":
            grads, hesses = field(e, s)
        new_e, new_s = e.copy(), s.copy()
        for j in range(num):
            new_e[j] = e[j] + eta_g * q[j] * grads[j]
            lin = eye + eta_g * q[j] * hesses[j]
            new_s[j] = lin @ s[j] @ lin.T
        e, s = new_e, new_s
        means.append(e.copy())
        covs.append(s.copy())
    return np.array(means), np.array(covs)


def smm_recursion(g, g2, p, mass, q, lam, eta_d, eta_g, mode, e0, cov0, num_steps):
    """The second-moment model of theory section 9 from ``f0 = 0`` (``b = 0``, ``C = 0``).

    ``b+ = (1-a) b - eta_d g Q e``; ``C+ = (1-a) C + eta_d g delta I + eta_d g2 Q (W + tr W I/2)``
    with ``W = S + e e^T``; ``M = I - eta_g q C~``, ``e+ = M e + eta_g q b~``, ``S+ = M S M^T``.
    Returns ``e (T + 1, d)`` and ``S (T + 1, d, d)`` (offsets from the true point).
    """
    e, s = np.array(e0, dtype=float), np.array(cov0, dtype=float)
    d = e.size
    eye = np.eye(d)
    a, delta = eta_d * lam, p - mass
    b, cmat = np.zeros(d), np.zeros((d, d))
    es, ss = [e.copy()], [s.copy()]
    for _ in range(num_steps):
        w = s + np.outer(e, e)
        b_new = (1 - a) * b - eta_d * g * mass * e
        c_new = (1 - a) * cmat + eta_d * g * delta * eye + eta_d * g2 * mass * (w + np.trace(w) * eye / 2)
        bt, ct = (b_new, c_new) if mode == "alternating" else (b, cmat)
        mmat = eye - eta_g * q * ct
        e, s = mmat @ e + eta_g * q * bt, mmat @ s @ mmat.T
        b, cmat = b_new, c_new
        es.append(e.copy())
        ss.append(s.copy())
    return np.array(es), np.array(ss)


# -- second-moment model, theory section 9 ---------------------------------------------------

def smm_coefficients(kernel) -> tuple[float, float]:
    """``(g, g2) = (-kappa'(0), kappa''(0))`` from the table of theory section 9 (parameters only)."""
    prm = kernel.params()
    kind = prm["kind"]
    if kind == "gaussian":
        return 1.0 / prm["sigma"] ** 2, 1.0 / prm["sigma"] ** 4
    if kind == "rational_quadratic":
        a = prm["alpha"]
        return 1.0 / prm["sigma"] ** 2, (a + 1.0) / (a * prm["sigma"] ** 4)
    if kind == "multiscale":
        pairs = list(zip(prm["sigmas"], prm["scale_weights"], strict=True))
        return sum(w / s**2 for s, w in pairs), sum(w / s**4 for s, w in pairs)
    raise ValueError(f"no second-moment coefficients for kernel {kind!r}")


def smm_points(g, g2, p, q, lam, eta_d, eta_g, mode, y0, num_steps, curvature0):
    """The second-moment model propagated point by point, then moments taken (theory section 9).

    The discriminator is kept as its quadratic model at the true point ``x = 0``,
    ``f(y) ~ f(0) + b.y - y^T C y / 2``. Each step adds ``eta_d`` times the
    second-order Taylor models of ``p K(., 0)`` and ``-q K(., y_j)`` at 0, one generated
    point at a time: ``grad_u K(u, y)|_0 ~ g y`` and
    ``hess_u K(u, y)|_0 ~ -g I + g2 (y y^T + |y|^2 I / 2)``. Every point then moves by
    ``eta_g q grad f(y_j) = eta_g q (b - C y_j)``. Returns the mean ``(K+1, d)``, the
    covariance ``(K+1, d, d)`` (normalized by ``n``), ``b (K+1, d)`` and ``C (K+1, d, d)``.
    """
    y = np.array(y0, dtype=float)
    n, d = y.shape
    b = np.zeros(d)
    C = curvature0 * np.eye(d)
    means, covs, bs, cs = [], [], [], []

    def record():
        mu = sum(y[j] for j in range(n)) / n
        cov = np.zeros((d, d))
        for j in range(n):
            cov += np.outer(y[j] - mu, y[j] - mu) / n
        means.append(mu)
        covs.append(cov)
        bs.append(b.copy())
        cs.append(C.copy())

    record()
    for _ in range(num_steps):
        grad = np.zeros(d)          # grad of the step's new kernel sections at 0
        hess = -g * p * np.eye(d)   # p hess_u K(u, 0)|_0 = -g p I
        for j in range(n):
            grad -= q * g * y[j]
            hess -= q * (-g * np.eye(d) + g2 * (np.outer(y[j], y[j]) + 0.5 * (y[j] @ y[j]) * np.eye(d)))
        b_new = (1 - eta_d * lam) * b + eta_d * grad
        C_new = (1 - eta_d * lam) * C - eta_d * hess
        bt, Ct = (b_new, C_new) if mode == "alternating" else (b, C)
        y = np.array([y[j] + eta_g * q * (bt - Ct @ y[j]) for j in range(n)])
        b, C = b_new, C_new
        record()
    return np.array(means), np.array(covs), np.array(bs), np.array(cs)
