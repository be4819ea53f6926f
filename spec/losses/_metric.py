"""Metric-learning losses: pair distances, triplets, cosine pairs, rankings,
Circle loss and the two self-supervised objectives on two views (NT-Xent,
Barlow Twins).

Embeddings are ``(N, D)``: one row per sample, features on the last axis.
Pairwise similarities are built by broadcasting (``(N, 1, D) * (1, N, D)``
summed over ``D``), since the ops protocol has no matrix product.

The peer equivalences marked "tested" below are proven in
``tests/test_peers_metric_boxes.py`` for our torch module and our Keras loss.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from spec.inputs import Extra, Inputs
from spec.ops import Ops, clip, safe_divide, safe_power, softplus
from spec.params import Param, ParamSet
from spec.reduction import Weighted
from spec.registry import LossSpec, register
from spec.samples import Sample

Tensor = Any


# --------------------------------------------------------------------------- helpers


def _hinge(ops: Ops, x: Tensor) -> Tensor:
    """``max(x, 0)`` with gradient 1 at 0, the convention of ``torch.clamp_min``
    and TensorFlow's ``maximum`` (``clip``'s, unlike ``relu``'s)."""
    return clip(ops, x, 0.0, math.inf)


def _norm(ops: Ops, x: Tensor, p: float) -> Tensor:
    """The p-norm over the last axis; value and gradient 0 at the zero vector
    (``safe_power`` keeps the root's infinite slope at 0 out of the graph)."""
    return safe_power(ops, ops.sum(safe_power(ops, ops.abs(x), p), axis=-1), 1.0 / p)


def _unit_rows(ops: Ops, x: Tensor, eps: float) -> Tensor:
    """Rows of ``x`` divided by ``max(||x||_2, eps)``; a zero row stays zero
    (also for ``eps = 0``)."""
    norm = ops.expand_dims(safe_power(ops, ops.sum(x * x, axis=-1), 0.5), -1)
    return safe_divide(ops, x, clip(ops, norm, eps, math.inf))


def _pairwise_dot(ops: Ops, a: Tensor, b: Tensor) -> Tensor:
    """``a @ b.T`` for ``(N, D)`` and ``(M, D)`` rows: ``(N, M)``."""
    return ops.sum(ops.expand_dims(a, 1) * ops.expand_dims(b, 0), axis=-1)


def _masked_logsumexp(ops: Ops, x: Tensor, mask: Tensor, axis: int) -> tuple[Tensor, Tensor]:
    """``log sum exp(x)`` over the entries selected by ``mask`` along ``axis``,
    and whether anything is selected there.

    The shift is the largest selected entry, taken without gradient (the
    gradient stays exact).  A row that selects nothing gets a finite
    placeholder; the caller masks it with the returned flag.
    """
    floor = ops.stop_gradient(-ops.amax(-x))  # no entry lies below it
    shift = ops.stop_gradient(ops.amax(ops.where(mask, x, floor), axis=axis))
    # exp of selected entries only: an unselected one may lie far above the shift
    shifted = ops.where(mask, x - ops.expand_dims(shift, axis), 0.0)
    total = ops.sum(ops.where(mask, ops.exp(shifted), 0.0), axis=axis)
    selected = ops.greater(total, 0.0)  # the largest selected term is exp(0) = 1
    return shift + ops.log(ops.where(selected, total, 1.0)), selected


def _identity(ops: Ops, size: int, like: Tensor) -> Tensor:
    # Python lists (not NumPy) so that torch.compile captures the constant
    return ops.constant([[1.0 if i == j else 0.0 for j in range(size)] for i in range(size)], like)


def _check_embeddings(ops: Ops, loss: str, y_pred: Tensor) -> None:
    shape = ops.shape(y_pred)
    if len(shape) != 2:
        raise ValueError(f"{loss}: y_pred must be embeddings of shape (N, D), got shape {shape}")


# --------------------------------------------------------------------------- formulas


def contrastive(ops: Ops, y_pred: Tensor, y_true: Tensor, *, margin: float) -> Tensor:
    r"""Contrastive loss of a pair distance: pull similar pairs together, push
    dissimilar pairs at least ``margin`` apart.

    .. math::

        \ell = y\,d^2 + (1 - y)\,\max(m - d,\ 0)^2

    Hadsell et al. write both terms with a factor :math:`\tfrac12` and label
    similar pairs :math:`Y = 0`; here :math:`y = 1` marks a similar pair and
    there is no :math:`\tfrac12` (the convention of TensorFlow Addons'
    ``ContrastiveLoss``), so this is twice the paper's loss with the labels
    flipped.  Soft labels in ``[0, 1]`` interpolate the two terms.

    Args:
        y_pred: pair distances :math:`d \ge 0` (e.g. the Euclidean distance of
            the two branches of a siamese network), any shape ``(N, ...)``.
        y_true: :math:`y`, 1 for a similar pair and 0 for a dissimilar one,
            with ``y_pred``'s shape.
        margin: :math:`m > 0`, the distance beyond which a dissimilar pair
            costs nothing.

    Returns:
        Elementwise losses with ``y_pred``'s shape.  No installed peer
        library implements it; it equals twice the paper's formula with
        :math:`Y = 1 - y` (tested, values and gradients).

    References:
        Hadsell, Chopra & LeCun, "Dimensionality Reduction by Learning an
        Invariant Mapping", CVPR 2006.
    """
    gap = _hinge(ops, margin - y_pred)
    return y_true * y_pred * y_pred + (1.0 - y_true) * gap * gap


def triplet_margin(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    negative: Tensor,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
) -> Tensor:
    r"""Triplet margin loss: the anchor must lie closer to the positive than to
    the negative, by at least ``margin``.

    .. math::

        \ell = \max\big(d(a, p) - d(a, n) + m,\ 0\big),\qquad
        d(x, y) = \lVert x - y + \epsilon \rVert_p

    With ``swap`` the negative distance is :math:`\min(d(a, n), d(p, n))`
    (Balntas et al.).  The distance adds :math:`\epsilon` to every component
    of the difference, as ``torch.nn.functional.pairwise_distance`` does; at
    a zero difference (``eps = 0`` and identical points) the norm's value and
    gradient are 0.  Ties of the swap's minimum share the gradient evenly.

    Args:
        y_pred: anchors :math:`a`, ``(N, D)`` (leading axes beyond ``N`` are
            kept; distances run over the last axis).
        y_true: positives :math:`p` with ``y_pred``'s shape.
        negative: extra input, negatives :math:`n` with ``y_pred``'s shape.
        margin: :math:`m > 0`.
        p: the norm degree, :math:`p > 0`.
        eps: :math:`\epsilon \ge 0` added to each component of the difference.
        swap: use the distance swap.

    Returns:
        One loss per triplet, shape ``y_pred.shape[:-1]``; every reduction
        equals ``torch.nn.TripletMarginLoss(margin, p, eps, swap, reduction)``
        called as ``(anchor, positive, negative)`` (tested, values and
        gradients with respect to all three).

    References:
        Schroff, Kalenichenko & Philbin, "FaceNet: A Unified Embedding for
        Face Recognition and Clustering", CVPR 2015; Balntas, Riba, Ponsa &
        Mikolajczyk, "Learning local feature descriptors with triplets and
        shallow convolutional neural networks", BMVC 2016 (swap).
    """
    positive_distance = _norm(ops, y_pred - y_true + eps, p)
    negative_distance = _norm(ops, y_pred - negative + eps, p)
    if swap:
        swapped = _norm(ops, y_true - negative + eps, p)
        # minimum as -max of the negatives: ties share the gradient (torch.min does too)
        negative_distance = -ops.amax(ops.stack([-negative_distance, -swapped]), axis=0)
    return _hinge(ops, margin + positive_distance - negative_distance)


def cosine_embedding(ops: Ops, y_pred: Tensor, y_true: Tensor, *, x2: Tensor, margin: float, eps: float) -> Tensor:
    r"""Cosine embedding loss: similar pairs towards cosine 1, dissimilar ones
    below ``margin``.

    .. math::

        \ell = \begin{cases} 1 - \cos(x_1, x_2) & y = 1 \\
        \max(\cos(x_1, x_2) - m,\ 0) & y = -1 \\ 0 & \text{otherwise} \end{cases},
        \qquad \cos(x_1, x_2) = \frac{x_1 \cdot x_2}
        {\sqrt{(\lVert x_1\rVert^2 + \epsilon)(\lVert x_2\rVert^2 + \epsilon)}}

    The default :math:`\epsilon` is torch's: its ``EPSILON`` is the float32
    number nearest ``1e-12``, ``9.999999960041972e-13`` (a float64 ``1e-12``
    moves the gradient at a zero vector by 2e-9, relative).  A zero vector
    has cosine 0 and a finite gradient.

    Args:
        y_pred: first embeddings :math:`x_1`, ``(N, D)``.
        y_true: labels :math:`y`, one per pair, ``(N,)``: 1 similar, -1
            dissimilar (other values give 0, as in torch).
        x2: extra input, second embeddings :math:`x_2` with ``y_pred``'s shape.
        margin: :math:`m \in [-1, 1]`, the cosine a dissimilar pair may reach
            for free.
        eps: :math:`\epsilon \ge 0` added to each squared norm.

    Returns:
        One loss per pair, ``(N,)``; every reduction equals
        ``torch.nn.CosineEmbeddingLoss(margin, reduction)`` called as
        ``(x1, x2, y)`` with the default ``eps`` (tested, values and
        gradients with respect to ``x1`` and ``x2``).

    References:
        The loss of ``torch.nn.CosineEmbeddingLoss``; cosine similarity for
        siamese pairs as in Bromley et al., "Signature Verification using a
        Siamese Time Delay Neural Network", NIPS 1993.
    """
    _check_embeddings(ops, "cosine_embedding", y_pred)
    # u = x1 / sqrt(|x1|^2 + eps), v likewise: cos = u . v exactly as torch defines it
    squared1, squared2 = ops.sum(y_pred * y_pred, axis=-1), ops.sum(x2 * x2, axis=-1)
    scale1 = ops.expand_dims(safe_power(ops, squared1 + eps, 0.5), -1)
    scale2 = ops.expand_dims(safe_power(ops, squared2 + eps, 0.5), -1)
    u, v = safe_divide(ops, y_pred, scale1), safe_divide(ops, x2, scale2)
    cosine = ops.sum(u * v, axis=-1)
    # 1 - u.v = (|u - v|^2 + (1 - |u|^2) + (1 - |v|^2)) / 2 without the cancellation of 1 - cos
    # near cos = 1, where 1 - |u|^2 = eps / (|x|^2 + eps) (1 for a zero vector with eps = 0)
    difference = u - v
    slack1 = safe_divide(ops, eps, squared1 + eps, when_zero=1.0)
    slack2 = safe_divide(ops, eps, squared2 + eps, when_zero=1.0)
    similar = 0.5 * (ops.sum(difference * difference, axis=-1) + slack1 + slack2)
    dissimilar = _hinge(ops, cosine - margin)
    return ops.where(ops.equal(y_true, 1.0), similar, ops.where(ops.equal(y_true, -1.0), dissimilar, 0.0))


def margin_ranking(ops: Ops, y_pred: Tensor, y_true: Tensor, *, x2: Tensor, margin: float) -> Tensor:
    r"""Margin ranking loss: ``x1`` should rank above ``x2`` (``y = 1``) or
    below it (``y = -1``) by at least ``margin``.

    .. math::

        \ell = \max\big(-y\,(x_1 - x_2) + m,\ 0\big)

    Args:
        y_pred: first scores :math:`x_1`, any shape ``(N, ...)``.
        y_true: :math:`y`, +1 or -1 with ``y_pred``'s shape.
        x2: extra input, second scores :math:`x_2` with ``y_pred``'s shape.
        margin: :math:`m` (any real; 0 is a plain hinge on the order).

    Returns:
        Elementwise losses; every reduction equals
        ``torch.nn.MarginRankingLoss(margin, reduction)`` called as ``(x1, x2, y)``,
        tied scores included (tested, values and gradients with respect to
        ``x1`` and ``x2``).

    References:
        Herbrich, Graepel & Obermayer, "Large Margin Rank Boundaries for
        Ordinal Regression", Advances in Large Margin Classifiers, 2000.
    """
    return _hinge(ops, margin - y_true * (y_pred - x2))


def circle(ops: Ops, y_pred: Tensor, y_true: Tensor, *, gamma: float, margin: float, remove_diagonal: bool) -> Weighted:
    r"""Circle loss over all pairs of a labelled batch of unit embeddings.

    For anchor :math:`i` with positives :math:`P_i` (same label) and
    negatives :math:`N_i` (other labels), similarities :math:`s = \min(x_i
    \cdot x_j, 1)`:

    .. math::

        \ell_i = \log\Big(1 + \sum_{j \in N_i} e^{\gamma\,\alpha_n (s_{ij} - \Delta_n)}
                 \sum_{k \in P_i} e^{-\gamma\,\alpha_p (s_{ik} - \Delta_p)}\Big),

    with :math:`\alpha_p = [1 + m - s]_+`, :math:`\alpha_n = [s + m]_+`,
    :math:`\Delta_p = 1 - m`, :math:`\Delta_n = m`.  An anchor without a
    positive or without a negative has :math:`\ell_i = 0` and weight 0:
    ``"mean"`` divides by the number of anchors that have both.  The
    embeddings are used as given (no normalisation), as in Keras.

    Args:
        y_pred: L2-normalised embeddings :math:`x`, ``(N, D)``.
        y_true: class labels, one per sample, ``(N,)`` or ``(N, 1)``
            (integers; compared after conversion to ``y_pred``'s dtype,
            exact below :math:`2^{24}` in float32).
        gamma: scale :math:`\gamma > 0`.
        margin: relaxation :math:`m`.
        remove_diagonal: an anchor is not its own positive.

    Returns:
        One loss per anchor, ``(N,)``, normalised by the anchors with both
        positives and negatives.  Equals ``keras.losses.Circle(gamma,
        margin, remove_diagonal)`` in all three reductions, with and without
        ``sample_weight`` (tested, values and gradients; TensorFlow
        backend).  Keras masks the anchors whose loss is exactly 0 and
        averages over the rest: the same anchors, as long as no anchor's
        loss underflows to 0 (:math:`\ell_i \ge \log(1 + e^{-2\gamma m^2})`,
        so only for :math:`\gamma m^2` beyond ~350 in float64, ~50 in float32).

    References:
        Sun et al., "Circle Loss: A Unified Perspective of Pair Similarity
        Optimization", CVPR 2020.
    """
    _check_embeddings(ops, "circle", y_pred)
    n = ops.shape(y_pred)[0]
    if n == 0:  # no anchor, no element (and a max over an empty axis has no identity)
        empty = ops.sum(y_pred, axis=1)
        return Weighted(empty, empty)
    # Keras measures d = max(1 - s, 0): a rounding excess of a unit vector over 1 counts as 1
    similarity = clip(ops, _pairwise_dot(ops, y_pred, y_pred), -math.inf, 1.0)
    same = ops.equal(ops.expand_dims(y_true, 1), ops.expand_dims(y_true, 0))
    positive = ops.logical_and(same, ops.equal(_identity(ops, n, y_pred), 0.0)) if remove_diagonal else same
    negative = ops.equal(same, False)
    alpha_p = _hinge(ops, 1.0 + margin - similarity)
    alpha_n = _hinge(ops, similarity + margin)
    lse_p, has_p = _masked_logsumexp(ops, -gamma * alpha_p * (similarity - (1.0 - margin)), positive, 1)
    lse_n, has_n = _masked_logsumexp(ops, gamma * alpha_n * (similarity - margin), negative, 1)
    valid = ops.logical_and(has_p, has_n)
    return Weighted(ops.where(valid, softplus(ops, lse_p + lse_n), 0.0), ops.cast(valid, y_pred))


def nt_xent(ops: Ops, y_pred: Tensor, y_true: Tensor, *, temperature: float, eps: float) -> Tensor:
    r"""NT-Xent (normalised temperature-scaled cross-entropy, InfoNCE) of two
    views of a batch.

    The :math:`2N` embeddings :math:`z` of both views are L2-normalised and
    each one must pick its partner view among the other :math:`2N - 1`:

    .. math::

        \ell_k = -\frac{s_{k,\pi(k)}}{\tau} + \log \sum_{j \ne k} e^{s_{kj}/\tau},
        \qquad s_{kj} = \frac{z_k \cdot z_j}{\max(\lVert z_k\rVert, \epsilon)\,
        \max(\lVert z_j\rVert, \epsilon)}

    and pair :math:`i` costs :math:`\tfrac12(\ell_i + \ell_{N+i})`.

    Args:
        y_pred: embeddings of the first view, ``(N, D)``.
        y_true: embeddings of the second view, ``(N, D)``; row ``i`` is the
            partner of row ``i`` of ``y_pred``.
        temperature: :math:`\tau > 0`.
        eps: :math:`\epsilon \ge 0`, the smallest norm divided by (torch's
            ``cosine_similarity`` default ``1e-8``); a zero embedding has
            similarity 0 to everything.

    Returns:
        One loss per pair, ``(N,)``; ``"mean"`` equals
        ``monai.losses.ContrastiveLoss(t)`` at ``temperature`` = the float32
        value of ``t`` (MONAI keeps it in a float32 tensor: 0.5 is exact, 0.1
        moves the loss by ~1e-8) (tested, values and gradients with respect
        to both views; gradients reach ``y_true`` too when the framework
        tracks it).

    References:
        Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for
        Contrastive Learning of Visual Representations", ICML 2020; van den
        Oord, Li & Vinyals, "Representation Learning with Contrastive
        Predictive Coding", 2018 (InfoNCE).
    """
    _check_embeddings(ops, "nt_xent", y_pred)
    n, features = ops.shape(y_pred)
    if n == 0:  # no pair, no element (and a max over an empty axis has no identity)
        return ops.sum(y_pred, axis=1)
    views = ops.reshape(ops.stack([y_pred, y_true]), (2 * n, features))
    units = _unit_rows(ops, views, eps)
    similarity = _pairwise_dot(ops, units, units)
    # partner of row k is row (k + N) mod 2N
    partner = ops.constant(
        [[1.0 if j == (k + n) % (2 * n) else 0.0 for j in range(2 * n)] for k in range(2 * n)], y_pred
    )
    positive = ops.sum(similarity * partner, axis=1)
    # l_k = log(1 + sum_{j != k, partner} exp((s_kj - s_k,partner) / tau)) = softplus(logsumexp(...)):
    # the partner's term is exactly 1, nothing of size 1 / tau cancels (as it would in
    # -s_pos / tau + logsumexp) and a small loss keeps its relative precision (log1p)
    logits = (similarity - ops.expand_dims(positive, 1)) / temperature
    negatives = ops.logical_and(ops.equal(_identity(ops, 2 * n, y_pred), 0.0), ops.equal(partner, 0.0))
    rest, any_negative = _masked_logsumexp(ops, logits, negatives, 1)
    per_view = ops.where(any_negative, softplus(ops, rest), 0.0)  # N = 1: nothing to tell apart
    return ops.mean(ops.reshape(per_view, (2, n)), axis=0)


def _standardized(ops: Ops, x: Tensor, eps: float, unbiased: bool) -> Tensor:
    """Columns of ``x`` centred and divided by their standard deviation plus
    ``eps``; a constant column becomes 0 (also for ``eps = 0``)."""
    n = ops.shape(x)[0]
    centred = x - ops.mean(x, axis=0, keepdims=True)
    variance = ops.sum(centred * centred, axis=0, keepdims=True) / (n - 1 if unbiased else n)
    return safe_divide(ops, centred, safe_power(ops, variance, 0.5) + eps)


def barlow_twins(ops: Ops, y_pred: Tensor, y_true: Tensor, *, lambd: float, eps: float, unbiased: bool) -> Tensor:
    r"""Barlow Twins: the cross-correlation of two views' standardised
    features should be the identity.

    .. math::

        \mathcal L = \sum_i (1 - C_{ii})^2 + \lambda \sum_{i \ne j} C_{ij}^2,\qquad
        C = \tfrac1N\,\hat a^\top \hat b,\qquad
        \hat a = \frac{a - \bar a}{\sigma(a) + \epsilon}

    with means and standard deviations over the batch, per feature.

    Args:
        y_pred: features of the first view, ``(N, D)`` with ``N >= 2``.
        y_true: features of the second view, ``(N, D)``.
        lambd: :math:`\lambda \ge 0`, the weight of the redundancy
            (off-diagonal) term.
        eps: :math:`\epsilon \ge 0` added to each standard deviation; a
            constant feature standardises to 0.
        unbiased: standard deviation with Bessel's correction (divide by
            ``N - 1``, torch's ``std`` and MONAI) or by ``N`` (the batch
            normalisation of the authors' code, where :math:`\epsilon`
            sits inside the square root instead).

    Returns:
        One value for the batch (the statistics pool the batch, so
        ``sample_weight`` does not apply).  Equals
        ``monai.losses.BarlowTwinsLoss(l)`` with ``eps=1e-6, unbiased=True``
        and ``lambd`` = the float32 value of ``l`` (MONAI keeps it in a
        float32 tensor) (tested, values and gradients with respect to both
        views).

    References:
        Zbontar, Jing, Misra, LeCun & Deny, "Barlow Twins: Self-Supervised
        Learning via Redundancy Reduction", ICML 2021.
    """
    _check_embeddings(ops, "barlow_twins", y_pred)
    n, features = ops.shape(y_pred)
    if n == 1:  # the per-feature standard deviation needs two samples (an empty batch is no loss)
        raise ValueError(f"barlow_twins: needs a batch of at least 2 samples, got y_pred shape {(n, features)}")
    a = _standardized(ops, y_pred, eps, unbiased)
    b = _standardized(ops, y_true, eps, unbiased)
    correlation = ops.sum(ops.expand_dims(a, 2) * ops.expand_dims(b, 1), axis=0) / n
    identity = _identity(ops, features, y_pred)
    error = correlation - identity
    return ops.sum((identity + lambd * (1.0 - identity)) * error * error)


# --------------------------------------------------------------------------- samples


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _contrastive_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Distances away from the margin's kink, zero distances, a perfect split."""
    margin = params["margin"]
    samples = []
    for shape in [(8,), (4, 3)]:
        labels = rng.integers(0, 2, shape).astype(np.float64)
        distances = rng.uniform(0.05, 2.0 * margin, shape)
        samples.append(Sample(f"random-{len(shape)}d", distances, dense=labels))
    labels = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    samples += [
        Sample("soft-labels", rng.uniform(0.05, 2.0 * margin, (6,)), dense=rng.random(6)),
        # similar pairs at distance 0, dissimilar ones beyond the margin: loss 0
        Sample("perfect", np.where(labels == 1.0, 0.0, margin + rng.uniform(0.1, 1.0, 6)), dense=labels),
        # dissimilar pairs at distance 0 cost m^2 with gradient -2m
        Sample("zero-distance", np.zeros(6), dense=labels),
        Sample(
            "sample-weight",
            rng.uniform(0.05, 2.0 * margin, (6,)),
            dense=labels,
            sample_weight=rng.uniform(0.2, 2.0, (6,)),
        ),
    ]
    return samples


def _triplet_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Random triplets, swap-relevant ones, zero-distance pairs, a perfect one."""
    n, d = 6, 4
    samples = []
    for name in ("random", "hard"):
        anchor = rng.normal(0.0, 1.0, (n, d))
        positive = anchor + rng.normal(0.0, 0.5, (n, d))
        spread = 0.6 if name == "hard" else 1.0
        negative = anchor + rng.normal(0.0, spread, (n, d))
        samples.append(Sample(name, anchor, dense=positive, extras={"negative": negative}))
    anchor = rng.normal(0.0, 1.0, (n, d))
    positive = anchor + rng.normal(0.0, 0.4, (n, d))
    # negatives next to the positives: the swap picks d(p, n)
    samples.append(Sample("swap", anchor, dense=positive, extras={"negative": positive + rng.normal(0.0, 0.3, (n, d))}))
    far = anchor + 10.0 * _unit(rng.normal(0.0, 1.0, (n, d)))
    samples += [
        # positive equals the anchor, negative far beyond the margin: loss 0
        Sample("perfect", anchor, dense=anchor.copy(), extras={"negative": far}),
        # anchor == positive (and anchor == negative) with the hinge active: the norm's kink
        Sample(
            "zero-distance",
            anchor,
            dense=anchor.copy(),
            extras={"negative": np.where(np.arange(n)[:, None] % 2 == 0, anchor, anchor + 0.3)},
            smooth=False,
        ),
        Sample(
            "sample-weight",
            anchor,
            dense=positive,
            extras={"negative": anchor + rng.normal(0.0, 1.0, (n, d))},
            sample_weight=rng.uniform(0.2, 2.0, (n,)),
        ),
    ]
    return samples


def _cosine_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Random pairs, a perfect split, zero vectors, labels outside +-1."""
    n, d = 6, 4
    labels = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    x1 = rng.normal(0.0, 1.0, (n, d))
    aligned = np.where(labels[:, None] == 1.0, x1, -0.5 * x1)  # identical (zero distance) / opposite
    zero = x1.copy()
    zero[::2] = 0.0
    return [
        Sample("random", rng.normal(0.0, 1.0, (n, d)), dense=labels, extras={"x2": rng.normal(0.0, 1.0, (n, d))}),
        Sample("perfect", x1, dense=labels, extras={"x2": aligned}),
        # cosine 0 with a gradient of order 1 / sqrt(eps): finite, but no finite differences at that scale
        Sample("zero-vector", zero, dense=labels, extras={"x2": rng.normal(0.0, 1.0, (n, d))}, smooth=False),
        Sample(
            "unlabelled-pairs",
            rng.normal(0.0, 1.0, (n, d)),
            dense=np.array([1.0, 0.0, -1.0, 0.5, 1.0, -1.0]),
            extras={"x2": rng.normal(0.0, 1.0, (n, d))},
        ),
        Sample(
            "sample-weight",
            rng.normal(0.0, 1.0, (n, d)),
            dense=labels,
            extras={"x2": rng.normal(0.0, 1.0, (n, d))},
            sample_weight=rng.uniform(0.2, 2.0, (n,)),
        ),
    ]


def _ranking_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Random scores (away from the hinge), a perfect ranking, tied scores."""
    margin = params["margin"]
    samples = []
    for shape in [(8,), (4, 3)]:
        labels = rng.choice([-1.0, 1.0], shape)
        x2 = rng.normal(0.0, 1.0, shape)
        # keep -y (x1 - x2) + m away from 0, where the hinge has its kink
        offset = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 1.5, shape)
        x1 = x2 + labels * (margin + offset)
        samples.append(Sample(f"random-{len(shape)}d", x1, dense=labels, extras={"x2": x2}))
    labels = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    x2 = rng.normal(0.0, 1.0, 6)
    samples += [
        Sample("perfect", x2 + labels * (margin + 0.5), dense=labels, extras={"x2": x2}),
        # equal scores sit on the kink only when the margin is 0
        Sample("tied", x2.copy(), dense=labels, extras={"x2": x2}, smooth=margin != 0.0),
        Sample(
            "sample-weight",
            x2 + labels * (margin + rng.choice([-1.0, 1.0], 6) * rng.uniform(0.2, 1.5, 6)),
            dense=labels,
            extras={"x2": x2},
            sample_weight=rng.uniform(0.2, 2.0, (6,)),
        ),
    ]
    return samples


def _circle_samples(rng: np.random.Generator, params: dict) -> list[Sample]:
    """Labelled unit embeddings: random, a perfect clustering, an anchor alone
    in its class, a batch of one class."""
    labels = np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0])
    # norm 0.97: the self-similarity (kept when remove_diagonal=False) stays off the clip at 1
    random = 0.97 * _unit(rng.normal(0.0, 1.0, (8, 4)))
    perfect = np.eye(4)[labels.astype(int)]  # one orthogonal unit vector per class
    single = labels.copy()
    single[1] = 7.0  # an anchor with no positive: weight 0
    return [
        Sample("random", random, dense=labels),
        Sample("near-clusters", 0.97 * _unit(perfect[:, :3] + rng.normal(0.0, 0.3, (8, 3))), dense=labels),
        # similarities exactly 1 and 0: on the clip at 1, so no finite differences
        Sample("perfect", perfect, dense=labels, smooth=False),
        Sample("singleton-class", 0.97 * _unit(rng.normal(0.0, 1.0, (8, 4))), dense=single),
        # no negatives anywhere: every anchor has weight 0, the mean is 0
        Sample("one-class", 0.97 * _unit(rng.normal(0.0, 1.0, (4, 3))), dense=np.zeros(4)),
        Sample(
            "sample-weight",
            0.97 * _unit(rng.normal(0.0, 1.0, (8, 4))),
            dense=labels,
            sample_weight=rng.uniform(0.2, 2.0, (8,)),
        ),
    ]


def _views_samples(rng: np.random.Generator, params: dict, *, weights: bool) -> list[Sample]:
    """Two views of a batch: random, identical, collapsed, with a zero or a
    constant feature.  The degenerate samples use values whose batch means,
    norms and products are exact in float32: there the gradient is 0 (or the
    standardised feature is 0) only if no rounding survives, and float32
    rounding of the O(1) terms would otherwise be compared as signal."""
    n, d = 6, 4
    first = rng.normal(0.0, 1.0, (n, d))
    hadamard = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0], [1.0, -1.0, -1.0, 1.0]])
    if weights:  # NT-Xent: identical views of mutually orthogonal embeddings (norm 2, exact)
        perfect = hadamard
    else:  # Barlow Twins: identical views of zero-mean, uncorrelated features of unbiased std 1
        perfect = np.ascontiguousarray(np.vstack([hadamard[1:].T, np.zeros((1, 3))]))
    collapsed = np.tile([[2.0, 0.0, 0.0, 0.0]], (n, 1))
    zero = first.copy()
    zero[2] = 0.0
    constant = first.copy()
    constant[:, 1] = 0.75
    samples = [
        Sample("random", first, dense=first + rng.normal(0.0, 0.5, (n, d))),
        Sample("random-wide", rng.normal(0.0, 1.0, (4, 7)), dense=rng.normal(0.0, 1.0, (4, 7))),
        # identical views (zero distance between partners)
        Sample("perfect", perfect, dense=perfect.copy()),
        # every sample the same embedding: all similarities 1, every feature constant
        Sample("collapsed", collapsed, dense=collapsed.copy(), smooth=False),
        # a zero embedding (NT-Xent) / a constant feature (Barlow Twins): the norm's and the std's kinks
        Sample("zero-vector", zero, dense=zero + rng.normal(0.0, 0.1, (n, d)), smooth=False),
        Sample("constant-feature", constant, dense=first + rng.normal(0.0, 0.5, (n, d)), smooth=False),
    ]
    if weights:
        samples.append(
            Sample(
                "sample-weight",
                first,
                dense=first + rng.normal(0.0, 0.5, (n, d)),
                sample_weight=rng.uniform(0.2, 2.0, (n,)),
            )
        )
    return samples


# --------------------------------------------------------------------------- registration

_EMBEDDINGS = "embeddings (N, D)"
_TORCH_EPSILON = float(np.float32(1e-12))  # torch's cosine_embedding_loss EPSILON, a float32 constant

register(
    LossSpec(
        name="contrastive",
        formula=contrastive,
        params=ParamSet(
            (
                Param(
                    "margin",
                    "float",
                    1.0,
                    "distance beyond which dissimilar pairs cost nothing",
                    low=0.0,
                    low_open=True,
                ),
            )
        ),
        inputs=Inputs("elementwise", target_range=(0.0, 1.0), prediction="pair distances d >= 0"),
        family="metric_learning",
        presets={"default": {}, "wide_margin": {"margin": 2.5}},
        samples=_contrastive_samples,
    )
)

register(
    LossSpec(
        name="triplet_margin",
        formula=triplet_margin,
        params=ParamSet(
            (
                Param(
                    "margin",
                    "float",
                    1.0,
                    "required gap between negative and positive distance",
                    low=0.0,
                    low_open=True,
                ),
                Param("p", "float", 2.0, "degree of the distance norm", low=0.0, low_open=True),
                Param("eps", "float", 1e-6, "added to each component of the difference", low=0.0),
                Param("swap", "bool", False, "negative distance min(d(a, n), d(p, n))"),
            )
        ),
        inputs=Inputs(
            "elementwise",
            min_ndim=2,
            prediction="anchor embeddings (N, D)",
            extras=(Extra("negative", "negative embeddings, y_pred's shape"),),
        ),
        family="metric_learning",
        presets={
            "default": {},
            "l1_swap": {"p": 1.0, "swap": True},
            "cubic_exact": {"p": 3.0, "eps": 0.0, "margin": 0.4},
        },
        samples=_triplet_samples,
    )
)

register(
    LossSpec(
        name="cosine_embedding",
        formula=cosine_embedding,
        params=ParamSet(
            (
                Param("margin", "float", 0.0, "cosine a dissimilar pair may reach for free", low=-1.0, high=1.0),
                Param("eps", "float", _TORCH_EPSILON, "added to each squared norm (torch's)", low=0.0),
            )
        ),
        inputs=Inputs(
            "elementwise",
            target="sample",
            target_range=(-1.0, 1.0),
            min_ndim=2,
            prediction="first embeddings (N, D)",
            extras=(Extra("x2", "second embeddings, y_pred's shape"),),
        ),
        family="metric_learning",
        presets={"default": {}, "margin": {"margin": 0.3, "eps": 1e-3}},
        samples=_cosine_samples,
    )
)

register(
    LossSpec(
        name="margin_ranking",
        formula=margin_ranking,
        params=ParamSet((Param("margin", "float", 0.0, "required score gap"),)),
        inputs=Inputs(
            "elementwise",
            target_range=(-1.0, 1.0),
            prediction="first scores",
            extras=(Extra("x2", "second scores, y_pred's shape"),),
        ),
        family="metric_learning",
        presets={"default": {}, "margin": {"margin": 0.5}},
        samples=_ranking_samples,
    )
)

register(
    LossSpec(
        name="circle",
        formula=circle,
        params=ParamSet(
            (
                Param("gamma", "float", 80.0, "scale of the similarity logits", low=0.0, low_open=True),
                Param("margin", "float", 0.4, "relaxation margin"),
                Param("remove_diagonal", "bool", True, "an anchor is not its own positive"),
            )
        ),
        inputs=Inputs("elementwise", target="sample", min_ndim=2, prediction="unit embeddings (N, D)"),
        family="metric_learning",
        presets={
            "default": {},
            "paper": {"gamma": 256.0, "margin": 0.25},
            "keep_diagonal": {"gamma": 32.0, "margin": 0.1, "remove_diagonal": False},
        },
        samples=_circle_samples,
    )
)

register(
    LossSpec(
        name="nt_xent",
        formula=nt_xent,
        params=ParamSet(
            (
                Param("temperature", "float", 0.5, "softmax temperature", low=0.0, low_open=True),
                Param("eps", "float", 1e-8, "smallest norm divided by", low=0.0),
            )
        ),
        inputs=Inputs("elementwise", min_ndim=2, prediction=_EMBEDDINGS + " of the first view"),
        family="metric_learning",
        presets={"default": {}, "simclr": {"temperature": 0.1, "eps": 1e-6}},
        samples=lambda rng, params: _views_samples(rng, params, weights=True),
    )
)

register(
    LossSpec(
        name="barlow_twins",
        formula=barlow_twins,
        params=ParamSet(
            (
                Param("lambd", "float", 5e-3, "weight of the off-diagonal (redundancy) term", low=0.0),
                Param("eps", "float", 1e-6, "added to each standard deviation", low=0.0),
                Param("unbiased", "bool", True, "standard deviation with Bessel's correction"),
            )
        ),
        inputs=Inputs("elementwise", min_ndim=2, prediction=_EMBEDDINGS + " of the first view"),
        family="metric_learning",
        presets={"default": {}, "batch_statistics": {"lambd": 0.05, "eps": 0.0, "unbiased": False}},
        samples=lambda rng, params: _views_samples(rng, params, weights=False),
        tags=("batch_value",),
    )
)
