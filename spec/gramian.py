"""Gramian-based multi-task gradient methods, expressed as task weights.

Each framework computes the per-task gradients ``g_1 .. g_T`` of the shared
parameters and their ``T x T`` Gramian ``G_ij = <g_i, g_j>``.  The functions
here map ``G`` to a coefficient vector ``c`` (shape ``(T,)``, float64); the
update direction is ``d = sum_i c_i g_i``, which the framework applies by
back-propagating ``sum_i c_i L_i`` with ``c`` held constant.  Everything a
method needs is an inner product of task gradients, so ``G`` is enough and
the same NumPy code serves PyTorch and Keras.

* :func:`mgda_weights` -- MGDA's min-norm point of the gradients' convex hull
  (Sener & Koltun 2018), solved exactly.
* :func:`pcgrad_weights` -- PCGrad's gradient surgery (Yu et al. 2020) carried
  out on coefficients; :func:`pcgrad_orders` draws its seeded task orders.
* :func:`cagrad_weights` -- CAGrad (Liu et al. 2021), LibMTL's variant, solved
  exactly.

MGDA and CAGrad minimise a convex function over the simplex
``{w : w_i >= 0, sum_i w_i = 1}``.  Both are solved by visiting every face of
the simplex (support ``S``, ``2^T - 1`` of them, hence ``T <= 12``), solving
the face's stationarity conditions in closed form, keeping the solutions that
lie on the simplex and returning the one of smallest objective.  The optimum
is stationary on the face spanned by its own support, so it is among the
candidates; the result involves no iteration count, tolerance or starting
point.  Faces are visited from the full support down to single tasks, each
size in lexicographic order, and the first candidate within ``1e-13``
(relative) of the smallest objective wins, so ties (duplicated or dependent
gradients) have a fixed answer that favours the largest support: two
identical gradients share their weight.  Face systems
are solved with ``G + 1e-12 max|G| I`` in place of ``G``, which keeps every
system nonsingular when gradients are linearly dependent; candidates are
scored on the true objective.  The ridge is the only departure from the exact
optimum: it costs at most ``1e-12 max|G|`` in MGDA's objective and moves
weights by about ``1e-12`` (about ``1e-5`` between exactly duplicated
gradients, whose split does not change ``d``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import cache
from numbers import Integral, Real
from typing import Any

import numpy as np

MAX_TASKS = 12  # 2^T - 1 faces are enumerated: 4095 small solves at T = 12
NORMALIZATIONS = ("none", "l2")
CAGRAD_RESCALES = (0, 1, 2)
CAGRAD_EPS = 1e-8  # LibMTL's guard in sqrt(w^T G w + eps) and in lambda
_RIDGE = 1e-12  # relative to max|G|
_TIE = 1e-13  # relative to max|G|
_FEASIBLE = -1e-12  # most negative face weight still taken as on the simplex


def _checked_gramian(gramian: Any) -> np.ndarray:
    """``gramian`` as a symmetric float64 array, or a ``ValueError`` saying what is wrong."""
    gram = np.asarray(gramian)
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1] or gram.shape[0] < 1:
        raise ValueError(
            f"gramian has shape {gram.shape}; expected a square 2-D array (T, T) with T >= 1 "
            "(G_ij = <g_i, g_j> of the T task gradients)"
        )
    if gram.dtype.kind not in "fiu":
        raise ValueError(f"gramian has dtype {gram.dtype}; expected real numbers (floats)")
    gram = gram.astype(np.float64)
    if not np.all(np.isfinite(gram)):
        raise ValueError(f"gramian of shape {gram.shape} has NaN or inf entries; expected finite inner products")
    scale = float(np.abs(gram).max())
    asymmetry = float(np.abs(gram - gram.T).max())
    if asymmetry > 1e-8 * scale:
        raise ValueError(
            f"gramian of shape {gram.shape} is not symmetric: max |G - G^T| = {asymmetry:.3g} with "
            f"max |G| = {scale:.3g}; expected symmetry within 1e-8 relative"
        )
    diagonal = np.diag(gram)
    if np.any(diagonal < 0):
        raise ValueError(
            f"gramian has negative diagonal entries {diagonal[diagonal < 0].tolist()}; "
            "expected squared gradient norms G_ii >= 0"
        )
    # exact symmetry makes the result independent of which triangle was rounded
    return (gram + gram.T) / 2


def _check_task_count(num_tasks: int, method: str) -> None:
    if num_tasks > MAX_TASKS:
        raise ValueError(
            f"{method} enumerates the 2^T - 1 faces of the simplex; got T = {num_tasks} tasks, "
            f"expected T <= {MAX_TASKS}"
        )


@cache
def _faces(num_tasks: int) -> tuple[np.ndarray, ...]:
    """Supports of the simplex faces, grouped by size from ``num_tasks`` down
    to 1, each group an ``(m, size)`` array in lexicographic order.  This is
    the visiting order that decides ties."""
    groups = []
    for size in range(num_tasks, 0, -1):
        group = np.array(list(itertools.combinations(range(num_tasks), size)), dtype=np.intp)
        group.setflags(write=False)  # cached: shared by every call
        groups.append(group)
    return tuple(groups)


def _face_blocks(gram: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``G_SS + ridge I`` for every support ``S`` (row of ``faces``), ``(m, k, k)``;
    ``gram`` is already scaled to ``max|G| = 1``."""
    size = faces.shape[1]
    return gram[faces[:, :, None], faces[:, None, :]] + _RIDGE * np.eye(size)


def _on_simplex(weights: np.ndarray, faces: np.ndarray, num_tasks: int) -> np.ndarray:
    """Face solutions ``(m, k)`` as full weight vectors ``(m, T)``; rows that
    are not on the simplex (a weight below ``-1e-12``, or non-finite) become NaN."""
    feasible = np.all(np.isfinite(weights), axis=1) & np.all(weights >= _FEASIBLE, axis=1)
    weights = np.clip(weights, 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = weights / weights.sum(axis=1, keepdims=True)
    full = np.zeros((len(weights), num_tasks))
    full[np.arange(len(weights))[:, None], faces] = weights
    full[~feasible] = np.nan
    return full


def _first_minimum(candidates: Sequence[np.ndarray], objectives: Sequence[np.ndarray]) -> np.ndarray:
    """The first candidate (in visiting order) within ``_TIE`` of the smallest
    objective; NaN objectives mark candidates off the simplex."""
    weights, values = np.concatenate(candidates), np.concatenate(objectives)
    values = np.where(np.isnan(values), np.inf, values)
    return weights[np.flatnonzero(values <= values.min() + _TIE)[0]]


def _min_norm_weights(gram: np.ndarray) -> np.ndarray:
    """``argmin_{w in simplex} w^T G w`` by face enumeration (see the module docstring).

    On the face of support ``S`` the minimiser solves the KKT system
    ``G_SS w_S = lambda 1, 1^T w_S = 1``, i.e. ``w_S = a / (1^T a)`` with
    ``a = G_SS^{-1} 1``.
    """
    num_tasks = len(gram)
    scale = float(np.abs(gram).max())
    if scale == 0.0:  # every gradient is zero: every w is optimal, the tie rule keeps the full support
        return np.full(num_tasks, 1.0 / num_tasks)
    gram = gram / scale  # w is invariant to the scale of G; this makes the ridge and tie tolerances relative
    candidates, objectives = [], []
    for faces in _faces(num_tasks):
        solved = np.linalg.solve(_face_blocks(gram, faces), np.ones((*faces.shape, 1)))[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            weights = _on_simplex(solved / solved.sum(axis=1, keepdims=True), faces, num_tasks)
        candidates.append(weights)
        objectives.append(((weights @ gram) * weights).sum(axis=1))
    return _first_minimum(candidates, objectives)


def mgda_weights(gramian: Any, normalization: str = "none") -> np.ndarray:
    r"""MGDA: the min-norm point of the convex hull of the task gradients.

    .. math::

        w = \arg\min_{w \in \Delta} w^\top G w,\qquad
        \Delta = \{w : w_i \ge 0,\ \textstyle\sum_i w_i = 1\}

    The direction ``d = sum_i w_i g_i`` is the shortest vector in the hull; it
    has a non-negative inner product with every task gradient (descent for all
    tasks) and is zero at a Pareto-stationary point.  The minimiser is computed
    by enumerating the simplex faces (module docstring: exact up to a
    ``1e-12`` ridge), not by Frank-Wolfe; when it is not unique (linearly dependent gradients) the fixed
    tie rule picks one, and ``d`` itself is unique.

    Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization",
    NeurIPS 2018 (MGDA-UB when ``G`` holds gradients of the shared
    representation); Désidéri, "Multiple-gradient descent algorithm (MGDA) for
    multiobjective optimization", Comptes Rendus Mathématique 2012.

    Args:
        gramian: ``G``, shape ``(T, T)``, ``G_ij = <g_i, g_j>``; symmetric,
            finite, ``1 <= T <= 12``.
        normalization: ``"none"``: ``c = w``.  ``"l2"``: the gradients are
            first divided by their norms ``n_i = sqrt(G_ii)``: ``w`` solves the
            problem for ``G_ij / (n_i n_j)`` and ``c_i = w_i / n_i``.  A task
            with ``n_i = 0`` has no direction, gets ``c_i = 0`` and is left out
            of the solve; if every gradient is zero, ``c = 0``.

    Returns:
        ``c``, shape ``(T,)``, float64.  ``T = 1`` gives ``[1]`` (``[1 / n_1]``
        with ``"l2"``).
    """
    gram = _checked_gramian(gramian)
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    num_tasks = len(gram)
    _check_task_count(num_tasks, "mgda_weights")
    if normalization == "none":
        return _min_norm_weights(gram)
    norms = np.sqrt(np.diag(gram))
    active = np.flatnonzero(norms > 0)
    coefficients = np.zeros(num_tasks)
    if active.size == 0:
        return coefficients
    n = norms[active]
    # divide one factor at a time: n_i * n_j may underflow for tiny gradients
    unit = gram[np.ix_(active, active)] / n[:, None] / n[None, :]
    coefficients[active] = _min_norm_weights(unit) / n
    return coefficients


def pcgrad_orders(num_tasks: int, rng: np.random.Generator) -> list[list[int]]:
    """PCGrad's random task orders: for each task ``i = 0 .. T-1`` in turn, a
    permutation of the other tasks drawn with ``rng.permutation``.

    This is PCGrad's only randomness.  Callers seed it per training step,
    ``rng = numpy.random.default_rng([seed, step])``, so both frameworks draw
    the same orders and the method's state is a step counter.

    Args:
        num_tasks: ``T >= 1``.
        rng: the generator to draw from (advanced by ``T`` permutations).

    Returns:
        ``orders``, a list of ``T`` lists; ``orders[i]`` holds the ``T - 1``
        tasks other than ``i``.
    """
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, Integral) or num_tasks < 1:
        raise ValueError(f"num_tasks must be an int >= 1, got {num_tasks!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    orders = []
    for task in range(int(num_tasks)):
        others = np.array([j for j in range(num_tasks) if j != task], dtype=np.int64)
        orders.append([int(j) for j in rng.permutation(others)])
    return orders


def _checked_orders(orders: Any, num_tasks: int) -> list[list[int]]:
    def fail(detail: str) -> ValueError:
        return ValueError(
            f"orders{detail}; expected a list of T = {num_tasks} lists, orders[i] a permutation "
            "of the tasks other than i (see pcgrad_orders)"
        )

    if isinstance(orders, (str, bytes)) or not isinstance(orders, (Sequence, np.ndarray)):
        raise fail(f" is a {type(orders).__name__}")
    if len(orders) != num_tasks:
        raise fail(f" has {len(orders)} entries")
    checked = []
    for task, order in enumerate(orders):
        if isinstance(order, (str, bytes)) or not isinstance(order, (Sequence, np.ndarray)):
            raise fail(f"[{task}] is a {type(order).__name__}")
        order = list(order)
        if not all(isinstance(j, Integral) and not isinstance(j, (bool, np.bool_)) for j in order):
            raise fail(f"[{task}] = {order!r} holds non-integers")
        order = [int(j) for j in order]
        if sorted(order) != [j for j in range(num_tasks) if j != task]:
            raise fail(f"[{task}] = {order!r} is not a permutation of the other tasks")
        checked.append(order)
    return checked


def pcgrad_weights(gramian: Any, orders: Sequence[Sequence[int]]) -> np.ndarray:
    r"""PCGrad (gradient surgery) as coefficients of the original gradients.

    For each task ``i``, ``g_i^PC`` starts at ``g_i``; for each ``j`` in
    ``orders[i]``, a conflicting component is projected away:

    .. math::

        \text{if } \langle g_i^{PC}, g_j\rangle < 0:\quad
        g_i^{PC} \leftarrow g_i^{PC}
        - \frac{\langle g_i^{PC}, g_j\rangle}{\lVert g_j\rVert^2}\, g_j,
        \qquad d = \sum_i g_i^{PC}

    (``j`` is skipped when ``g_j = 0``).  Projections use the original
    ``g_j``, as in the paper's algorithm.  Every ``g_i^PC`` stays a
    combination ``sum_k A_ik g_k``, so ``<g_i^PC, g_j> = (A_i G)_j`` and the
    surgery runs on ``A`` alone; ``c = sum_i A_i``.

    Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.

    Args:
        gramian: ``G``, shape ``(T, T)``, ``G_ij = <g_i, g_j>``; symmetric,
            finite, ``T >= 1``.
        orders: ``orders[i]`` is the order in which task ``i`` is projected
            against the others, a permutation of ``{0..T-1} \ {i}``;
            :func:`pcgrad_orders` draws the paper's random orders.

    Returns:
        ``c``, shape ``(T,)``, float64; ``c = 1`` when no pair conflicts, and
        ``T = 1`` gives ``[1]``.
    """
    gram = _checked_gramian(gramian)
    num_tasks = len(gram)
    orders = _checked_orders(orders, num_tasks)
    combination = np.eye(num_tasks)
    for task, order in enumerate(orders):
        row = combination[task]
        for other in order:
            squared_norm = gram[other, other]
            if squared_norm == 0.0:
                continue
            dot = row @ gram[:, other]
            if dot < 0.0:
                row[other] -= dot / squared_norm
    return combination.sum(axis=0)


def _cagrad_inner(gram: np.ndarray, phi: float) -> np.ndarray:
    """``argmin_{w in simplex} b^T w + phi sqrt(w^T G w + eps)``, ``b = G 1 / T``,
    by face enumeration (see the module docstring).

    On the face of support ``S`` (``M = G_SS + ridge I``), stationarity reads
    ``b_S + phi M w / s = mu 1`` with ``s = sqrt(w^T M w + eps)``: ``w`` is the
    minimiser of the quadratic ``b^T w + w^T M w / (2 tau)`` on the face for
    ``tau = s / phi``.  That minimiser is affine in ``tau``,
    ``w(tau) = u + tau v`` with ``a = M^{-1} 1``, ``e = M^{-1} b_S``,
    ``u = a / (1^T a)``, ``v = (1^T e / 1^T a) a - e``, and ``tau = s(w(tau)) / phi``
    is the quadratic ``(phi^2 - v^T M v) tau^2 - 2 u^T M v tau - (u^T M u + eps) = 0``.
    Its positive roots are the face's stationary points.
    """
    num_tasks = len(gram)
    scale = float(np.abs(gram).max())
    # f(w; G / s, phi / sqrt(s), eps / s) = f(w; G, phi, eps) / s: same minimiser, tolerances relative
    gram, phi, eps = gram / scale, phi / math.sqrt(scale), CAGRAD_EPS / scale
    linear = gram.mean(axis=1)
    rhs = np.stack([np.ones(num_tasks), linear], axis=1)
    candidates, objectives = [], []
    for faces in _faces(num_tasks):
        solved = np.linalg.solve(_face_blocks(gram, faces), rhs[faces])
        a, e = solved[..., 0], solved[..., 1]
        sum_a, sum_e = a.sum(axis=1, keepdims=True), e.sum(axis=1, keepdims=True)
        u = a / sum_a
        v = (sum_e / sum_a) * a - e
        # M u = 1 / (1^T a) and M v = (1^T e / 1^T a) 1 - b_S by construction
        m_v = sum_e / sum_a - linear[faces]
        quad_v = (v * m_v).sum(axis=1)
        cross = (u * m_v).sum(axis=1)
        const = 1.0 / sum_a[:, 0] + eps
        lead = phi**2 - quad_v
        with np.errstate(invalid="ignore", divide="ignore"):
            # roots of lead tau^2 - 2 cross tau - const = 0 without cancellation
            half = cross + np.where(cross >= 0, 1.0, -1.0) * np.sqrt(cross**2 + lead * const)
            taus = np.stack([half / lead, -const / half], axis=1)
        taus = np.where(np.isfinite(taus) & (taus > 0), taus, np.nan)
        weights = u[:, None, :] + taus[:, :, None] * v[:, None, :]
        weights = _on_simplex(weights.reshape(-1, faces.shape[1]), np.repeat(faces, 2, axis=0), num_tasks)
        candidates.append(weights)
        quadratic = ((weights @ gram) * weights).sum(axis=1)
        objectives.append(weights @ linear + phi * np.sqrt(np.clip(quadratic, 0.0, None) + eps))
    return _first_minimum(candidates, objectives)


def cagrad_weights(gramian: Any, c: float = 0.5, rescale: int = 1) -> np.ndarray:
    r"""CAGrad (conflict-averse gradient descent), LibMTL's variant.

    With ``g0 = mean_i g_i`` (``||g0|| = sqrt(mean(G))``), ``phi = c ||g0||``
    and ``g_w = sum_i w_i g_i``:

    .. math::

        w = \arg\min_{w \in \Delta}\ \tfrac1T\, w^\top G \mathbf 1
            + \phi \sqrt{w^\top G w + 10^{-8}},\qquad
        \lambda = \frac{\phi}{\lVert g_w\rVert + 10^{-8}},\qquad
        c_i = \Big(\tfrac1T + \lambda w_i\Big) / r

    so ``d = g0 + lambda g_w``: the direction within distance ``phi`` of the
    average gradient that maximises the worst task's improvement
    ``min_i <g_i, d>`` (up to the ``1e-8`` terms, which are LibMTL's).  ``r``
    is 1, ``1 + c^2`` or ``1 + c`` for ``rescale`` 0, 1, 2.  The inner problem
    is solved by face enumeration (module docstring) instead of LibMTL's
    SLSQP.

    Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning",
    NeurIPS 2021; LibMTL ``LibMTL/weighting/CAGrad.py``.

    Args:
        gramian: ``G``, shape ``(T, T)``, ``G_ij = <g_i, g_j>``; symmetric,
            finite, ``1 <= T <= 12``.
        c: ``c >= 0``, the radius of the ball around ``g0`` relative to
            ``||g0||``; ``c = 0`` gives the average gradient.
        rescale: 0, 1 or 2, the divisor ``r`` above.

    Returns:
        The coefficients ``c_i``, shape ``(T,)``, float64.  When ``phi = 0``
        (``c = 0`` or ``g0 = 0``) they are ``1 / (T r)``; ``T = 1`` gives
        ``(1 + lambda) / r``.
    """
    gram = _checked_gramian(gramian)
    if isinstance(c, bool) or not isinstance(c, Real) or not math.isfinite(c) or c < 0:
        raise ValueError(f"c must be a finite float >= 0 (radius relative to ||g0||), got {c!r}")
    if isinstance(rescale, bool) or rescale not in CAGRAD_RESCALES:
        raise ValueError(f"rescale must be one of {CAGRAD_RESCALES} (none, 1 + c^2, 1 + c), got {rescale!r}")
    num_tasks = len(gram)
    _check_task_count(num_tasks, "cagrad_weights")
    c = float(c)
    # mean(G) = ||g0||^2 can round to a tiny negative value when g0 = 0
    phi = c * math.sqrt(max(float(gram.mean()), 0.0))
    coefficients = np.full(num_tasks, 1.0 / num_tasks)
    if phi > 0.0:
        weights = _cagrad_inner(gram, phi)
        norm = math.sqrt(max(float(weights @ gram @ weights), 0.0))
        coefficients = coefficients + phi / (norm + CAGRAD_EPS) * weights
    divisor = (1.0, 1.0 + c**2, 1.0 + c)[int(rescale)]
    return coefficients / divisor
