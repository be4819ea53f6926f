"""Connectionist Temporal Classification (CTC): the negative log-likelihood of
a label sequence summed over all its frame-level alignments."""

from __future__ import annotations

from typing import Any

import numpy as np

from spec.inputs import Extra, Inputs
from spec.losses._targets import is_label_target
from spec.ops import Ops
from spec.params import Param, ParamSet
from spec.registry import LossSpec, register
from spec.samples import SATURATION, Sample

Tensor = Any

# log(0) stand-in: finite, so no -inf ever meets a subtraction (-inf - -inf = NaN)
# or a gradient; any sum with a finite log-probability of a frame rounds back to it.
LOG_ZERO = -1e30
# The loss of a sample whose target no alignment of its input length can produce
# (torch returns inf, TensorFlow an arbitrary finite value); constant, so its
# gradient is 0.  Exact and finite in float16.
IMPOSSIBLE_LOSS = 1e4


def _index(ops: Ops, values: Any, like_int: Tensor, like_float: Tensor) -> Tensor:
    """An integer constant (``values`` small non-negative ints) with ``like_int``'s dtype."""
    return ops.cast(ops.constant(values, like_float), like_int)


def _log_add_exp3(ops: Ops, a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """``log(e^a + e^b + e^c)`` shifted by the stop-gradient maximum: every
    exponent is <= 0, the sum >= 1, no overflow, no log(0)."""
    top = ops.where(ops.greater(b, a), b, a)
    top = ops.stop_gradient(ops.where(ops.greater(c, top), c, top))
    return top + ops.log(ops.exp(a - top) + ops.exp(b - top) + ops.exp(c - top))


def ctc_negative_log_likelihood(
    ops: Ops, logits: Tensor, labels: Tensor, input_lengths: Tensor, target_lengths: Tensor, blank: int
) -> Tensor:
    r"""``-log p(l | x)`` per sample, ``p = softmax(logits)`` over the classes,
    by the forward (alpha) recursion in log space.

    The composite body of a fused ``ctc_loss`` op (``F.ctc_loss`` on
    ``log_softmax(logits)`` and ``tf.nn.ctc_loss`` compute the same): a Python
    loop over the static number of frames, states selected with ``where``,
    labels gathered with ``take_along_axis``.  Its gradient with respect to
    ``logits`` is ``softmax - posterior`` on valid frames, 0 beyond them.

    Args:
        logits: ``(N, T, C)`` logits or log-probabilities (``T`` static).
        labels: ``(N, S)`` integer labels in ``[0, C)`` (padding included),
            same dtype as the lengths.
        input_lengths: ``(N,)`` integers in ``[0, T]``.
        target_lengths: ``(N,)`` integers in ``[0, S]``.
        blank: blank class in ``[0, C)``.

    Returns:
        ``(N,)`` negative log-likelihoods.  A sample no alignment reaches gets a
        finite value of about ``-LOG_ZERO`` with a finite gradient; callers
        replace it (its gradient then vanishes).
    """
    log_probs = ops.log_softmax(logits, 2)
    num, steps, _ = ops.shape(log_probs)
    length = ops.shape(labels)[1]
    states = 2 * length + 1  # blank, l_1, blank, l_2, ..., l_S, blank

    zero_rows = ops.sum(labels * 0, axis=1, keepdims=True)  # (N, 1) integer zeros
    state = ops.expand_dims(_index(ops, list(range(states)), labels, log_probs), 0) + zero_rows  # (N, S')
    is_blank_state = ops.greater(
        ops.constant([[1.0 if s % 2 == 0 else 0.0 for s in range(states)]], log_probs), 0.5
    )  # (1, S')
    label_of_state = [min(max((s - 1) // 2, 0), length - 1) for s in range(states)]
    gathered = ops.take_along_axis(
        labels, ops.expand_dims(_index(ops, label_of_state, labels, log_probs), 0) + zero_rows, 1
    )
    extended = ops.where(is_blank_state, blank, gathered)  # (N, S') z_s

    previous = ops.expand_dims(_index(ops, [max(s - 1, 0) for s in range(states)], labels, log_probs), 0) + zero_rows
    before_previous = (
        ops.expand_dims(_index(ops, [max(s - 2, 0) for s in range(states)], labels, log_probs), 0) + zero_rows
    )
    has_previous = ops.greater(state, 0)
    # z_{s-2} -> z_s skips the blank between two different labels
    can_skip = ops.logical_and(
        ops.greater(state, 1), ops.not_equal(extended, ops.take_along_axis(extended, before_previous, 1))
    )

    # emissions[n, t, s] = log p_t(z_s)
    frame_zeros = _index(ops, [[[0]] * steps], labels, log_probs)  # (1, T, 1)
    emissions = ops.take_along_axis(log_probs, ops.expand_dims(extended, 1) + frame_zeros, 2)  # (N, T, S')
    frame_index = ops.expand_dims(extended * 0, 1)  # (N, 1, S') integer zeros

    zeros = ops.cast(zero_rows, log_probs)  # (N, 1)
    alpha = ops.reshape(ops.constant([0.0] + [LOG_ZERO] * (states - 1), log_probs), (1, states)) + zeros
    frames = ops.reshape(input_lengths, (num, 1))
    for t in range(steps):
        emission = ops.reshape(ops.take_along_axis(emissions, frame_index + t, 1), (num, states))
        stay = alpha
        advance = ops.where(has_previous, ops.take_along_axis(alpha, previous, 1), LOG_ZERO)
        skip = ops.where(can_skip, ops.take_along_axis(alpha, before_previous, 1), LOG_ZERO)
        step = _log_add_exp3(ops, stay, advance, skip) + emission
        alpha = ops.where(ops.greater(frames, t), step, alpha)  # frozen after the sample's last frame

    # the path ends in the last label (s = 2L - 1) or the blank after it (s = 2L)
    last = 2 * ops.reshape(target_lengths, (num, 1))
    final = ops.logical_and(ops.greater(state, last - 2), ops.less(state, last + 1))
    ends = ops.where(final, alpha, LOG_ZERO)
    top = ops.stop_gradient(ops.amax(ends, axis=1, keepdims=True))
    total = ops.sum(ops.where(final, ops.exp(ends - top), 0.0), axis=1)
    return -(ops.reshape(top, (num,)) + ops.log(ops.where(ops.greater(total, 0.0), total, 1.0)))


def _shape_error(ops: Ops, y_pred: Tensor, y_true: Tensor, num_classes: int, message: str) -> None:
    if is_label_target(ops, y_pred, y_true) and num_classes > 0:
        # A backend whose index ops validate (torch) skipped the eager label
        # check; this gather lets a bad label be reported first, as the other
        # backends did before the formula ran.
        ops.gather(ops.constant([0.0] * num_classes, y_pred), y_true)
    raise ValueError(message)


def ctc(
    ops: Ops,
    y_pred: Tensor,
    y_true: Tensor,
    *,
    input_lengths: Tensor,
    target_lengths: Tensor,
    class_axis: int,
    blank: int,
    normalize_by_length: bool,
    zero_infinity: bool,
) -> Tensor:
    r"""Connectionist Temporal Classification loss: the negative log-likelihood of a label sequence.

    .. math::

        \ell_n = -\log \sum_{\pi \in \mathcal B^{-1}(\mathbf l_n)} \prod_{t=1}^{T_n} p_{t,\pi_t}

    over all frame-level paths :math:`\pi` of length :math:`T_n` that
    :math:`\mathcal B` (merge repeated symbols, then drop blanks) maps to the
    target :math:`\mathbf l_n = (l_1, \dots, l_{L_n})`.  With the extended
    sequence :math:`z = (b, l_1, b, l_2, \dots, b, l_L, b)` of length
    :math:`2L + 1` (:math:`b` the blank) the sum is the forward recursion in
    log space, :math:`\oplus` being log-add-exp:

    .. math::

        \alpha_1(1) = \log p_{1,b},\quad \alpha_1(2) = \log p_{1,l_1},\quad
        \alpha_1(s) = -\infty \ (s > 2)

        \alpha_t(s) = \big[\alpha_{t-1}(s) \oplus \alpha_{t-1}(s-1) \oplus
            \mathbb 1[z_s \ne z_{s-2}]\,\alpha_{t-1}(s-2)\big] + \log p_{t,z_s}

        \ell_n = -\big[\alpha_{T_n}(2L) \oplus \alpha_{T_n}(2L+1)\big]

    (for :math:`L_n = 0` only :math:`\alpha_{T_n}(1)`, and :math:`\ell_n = 0`
    when :math:`T_n = 0` too; the skip from :math:`s - 2` passes over a blank between two different
    labels; a repeated label needs a blank between its copies).  :math:`-\infty`
    is the finite ``LOG_ZERO = -1e30`` and every log-add-exp is shifted by its
    maximum, so no NaN or inf appears in values or gradients.
    :math:`\log p_t = \mathrm{log\_softmax}(y_t)` over the classes: ``y_pred``
    may hold logits (TensorFlow's and Keras' input) or log-probabilities
    (torch's input), which ``log_softmax`` leaves unchanged.  For
    probabilities pass ``log(clip(p, eps, 1))``.

    A target that needs more frames than the sample has (:math:`L_n` plus its
    number of adjacent repeated labels :math:`> T_n`) has no alignment: its
    loss is the constant ``IMPOSSIBLE_LOSS = 1e4`` (0 with ``zero_infinity``)
    with zero gradient (torch returns inf, TensorFlow an arbitrary finite value).

    Args:
        y_pred: ``(N, T, C)`` (``class_axis=-1``) or ``(N, C, T)``
            (``class_axis=1``) logits or log-probabilities, ``T`` frames of
            ``C`` classes, blank included.  Batch-major: torch's ``(T, N, C)``
            ``log_probs`` are passed as ``log_probs.transpose(0, 1)`` with
            ``class_axis=-1`` (or ``log_probs.permute(1, 2, 0)``).
        y_true: ``(N, T)`` integer target sequences, padded to the number of
            frames ``T`` (a target needs at most ``T`` labels); entries at and
            beyond ``target_lengths[n]`` are ignored but must be class indices
            too (pad with the blank).  Labels must differ from the blank.  The
            one-hot encoding of these labels, with ``y_pred``'s shape, is
            accepted as well.
        input_lengths: ``(N,)`` integers, the number of valid frames
            :math:`T_n \in [0, T]` of each sample (extra input, keyword);
            frames at and beyond it are ignored (zero gradient).  Values above
            ``T`` act as ``T``, negative ones as 0.
        target_lengths: ``(N,)`` integers, the target length
            :math:`L_n \in [0, T]` (extra input, keyword); 0 gives
            :math:`-\sum_{t \le T_n} \log p_{t,b}`, a length above ``T`` an
            impossible target, a negative one acts as 0.
        class_axis: class axis of ``y_pred`` (1 or -1); the other non-batch
            axis is time.
        blank: class index of the blank; negative values count from the end
            (``-1`` is the last class, TensorFlow's convention).
        normalize_by_length: divide each sample's loss by
            :math:`\max(L_n, 1)` (torch's ``reduction="mean"``).
        zero_infinity: impossible samples get loss 0 instead of
            ``IMPOSSIBLE_LOSS`` (torch's ``zero_infinity=True``).

    Returns:
        Per-sample losses ``(N,)`` before reduction (``"mean"`` is the mean
        over the batch).

    Equivalences (tested in ``tests/test_peers_ctc.py``):
        * ``torch.nn.functional.ctc_loss(log_probs, targets, input_lengths,
          target_lengths, blank=b, reduction=r, zero_infinity=z)`` and
          ``torch.nn.CTCLoss(blank=b, reduction=r, zero_infinity=z)`` =
          ``blank=b, zero_infinity=z`` on ``log_probs.transpose(0, 1)`` with
          ``class_axis=-1``, targets padded to ``T``: ``r="none"``/``"sum"``
          with our ``"none"``/``"sum"``; ``r="mean"`` with
          ``normalize_by_length=True`` and ``"mean"``.  Values and gradients
          with respect to ``log_probs`` agree (torch's gradient is the one of
          ``log_softmax`` composed with the loss, ``exp(log_probs) - posterior``,
          and so is ours); with logits through ``F.log_softmax`` first too.
        * ``tf.nn.ctc_loss(labels, logits, label_length, logit_length,
          logits_time_major=False, blank_index=b)`` = ``blank=b``,
          ``reduction="none"``, ``class_axis=-1``, in float32 (TensorFlow's
          dense CTC fails on float64).
        * ``keras.losses.CTC(reduction=r)`` = ``blank=0``, ``class_axis=-1``,
          ``input_lengths=T`` for every sample, ``target_lengths`` = the number
          of non-zero labels (Keras' padding is 0, the blank), the same
          ``reduction`` and ``sample_weight``; Keras computes in float32 even
          for float64 inputs.
        * Not reproduced: torch's inf (and NaN gradient) for impossible
          targets with ``zero_infinity=False``; TensorFlow's and Keras' finite
          but arbitrary value for them (about 707 and more, from their
          float32 ``log(1e-307)`` floor) with a non-zero gradient.

    References:
        Graves, Fernández, Gomez, Schmidhuber, "Connectionist Temporal
        Classification: Labelling Unsegmented Sequence Data with Recurrent
        Neural Networks", ICML 2006.
    """
    shape = ops.shape(y_pred)
    num_classes = shape[class_axis]
    if len(shape) != 3:
        _shape_error(
            ops,
            y_pred,
            y_true,
            num_classes,
            f"ctc: y_pred must have 3 dimensions, (N, T, C) with class_axis=-1 or (N, C, T) with class_axis=1, "
            f"got shape {tuple(shape)}",
        )
    if not -num_classes <= blank < num_classes:
        _shape_error(
            ops,
            y_pred,
            y_true,
            num_classes,
            f"ctc: blank={blank} is not a class index for y_pred with {num_classes} classes on class_axis="
            f"{class_axis} (shape {tuple(shape)}); expected blank in [{-num_classes}, {num_classes})",
        )
    if shape[3 - class_axis] == 0:
        _shape_error(ops, y_pred, y_true, num_classes, f"ctc: y_pred has no frames, shape {tuple(shape)}")
    blank = blank % num_classes
    x = y_pred if class_axis == 2 else ops.moveaxis(y_pred, class_axis, 2)  # (N, T, C)
    num, steps, _ = ops.shape(x)

    if is_label_target(ops, y_pred, y_true):
        labels = ops.cast(y_true, target_lengths)
    else:  # one-hot rows: the label is sum_c c * y_c
        dense = y_true if class_axis == 2 else ops.moveaxis(y_true, class_axis, 2)
        codes = ops.sum(dense * ops.constant([[list(range(num_classes))]], x), axis=2)
        labels = ops.cast(codes + 0.5, target_lengths)

    # lengths outside [0, T] act as the nearest bound; a target longer than T is impossible
    frames = ops.cast(input_lengths, target_lengths)
    frames = ops.where(ops.greater(frames, steps), steps, ops.where(ops.less(frames, 0), 0, frames))
    wanted = ops.where(ops.less(target_lengths, 0), 0, target_lengths)
    used = ops.where(ops.greater(wanted, steps), steps, wanted)

    nll = ops.ctc_loss(x, labels, frames, used, blank)

    # fewest frames a path needs: L plus one blank between each pair of equal neighbours
    position = ops.expand_dims(_index(ops, list(range(steps)), labels, x), 0) + ops.sum(
        labels * 0, axis=1, keepdims=True
    )
    earlier = ops.expand_dims(_index(ops, [max(k - 1, 0) for k in range(steps)], labels, x), 0) + position * 0
    repeated = ops.logical_and(
        ops.equal(labels, ops.take_along_axis(labels, earlier, 1)),
        ops.logical_and(ops.greater(position, 0), ops.less(position, ops.reshape(used, (num, 1)))),
    )
    needed = ops.cast(wanted, x) + ops.sum(ops.cast(repeated, x), axis=1)
    impossible = ops.greater(needed, ops.cast(frames, x))

    loss = nll
    if normalize_by_length:
        loss = loss / ops.cast(ops.where(ops.greater(wanted, 1), wanted, 1), x)
    return ops.where(impossible, 0.0 if zero_infinity else IMPOSSIBLE_LOSS, loss)


# --------------------------------------------------------------------------- sample inputs


def _labels(rng: np.random.Generator, lengths: list[int], steps: int, num_classes: int, blank: int) -> np.ndarray:
    """``(N, steps)`` targets: random non-blank labels up to each length, random
    class indices (blank included) as padding after it."""
    choices = [c for c in range(num_classes) if c != blank]
    labels = rng.integers(0, num_classes, (len(lengths), steps))
    for n, length in enumerate(lengths):
        labels[n, :length] = rng.choice(choices, length)
    return labels.astype(np.int64)


def _needed(labels: np.ndarray, length: int) -> int:
    return length + int(np.sum(labels[1:length] == labels[: length - 1])) if length else 0


def _alignment(labels: np.ndarray, length: int, frames: int, steps: int, blank: int) -> list[int]:
    """One frame-level path of ``labels[:length]`` over ``frames`` frames
    (labels first, a blank between repeats, blanks after), blanks to ``steps``."""
    path: list[int] = []
    for k in range(length):
        if k and labels[k] == labels[k - 1]:
            path.append(blank)
        path.append(int(labels[k]))
    assert len(path) <= frames <= steps
    return path + [blank] * (steps - len(path))


def ctc_samples(rng: np.random.Generator, params: dict[str, Any]) -> list[Sample]:
    """Sequences of ``T <= 12`` frames over ``C <= 5`` classes, batches of at
    most 3: varying input and target lengths in one batch, repeated labels
    (tight and loose), empty targets, an input length of 0, targets longer than
    their inputs allow, a single possible alignment, perfect and saturated
    predictions, sample weights."""

    def sample(name, logits, labels, frames, lengths, *, smooth=True, weight=None):
        frames, lengths = np.asarray(frames, np.int64), np.asarray(lengths, np.int64)
        return Sample(
            name,
            logits,
            labels=labels,
            sample_weight=weight,
            smooth=smooth,
            extras={"input_lengths": frames, "target_lengths": lengths},
        )

    def blank_of(num_classes: int) -> int:
        return params["blank"] % num_classes

    samples = []

    # varying input and target lengths, padding with arbitrary classes
    c, t = 4, 8
    frames, lengths = [8, 6, 5], [3, 1, 2]
    labels = _labels(rng, lengths, t, c, blank_of(c))
    samples.append(sample("random", rng.normal(0.0, 1.5, (3, c, t)), labels, frames, lengths))

    # the longest sequences, three classes
    c, t = 3, 12
    frames, lengths = [12, 10], [5, 4]
    labels = _labels(rng, lengths, t, c, blank_of(c))
    samples.append(sample("random-long", rng.normal(0.0, 1.5, (2, c, t)), labels, frames, lengths))

    # repeated labels: a blank is needed between the copies (tight and loose input lengths)
    c, t = 4, 8
    b = blank_of(c)
    first, second = [k for k in range(c) if k != b][:2]
    labels = np.full((2, t), b, np.int64)
    labels[0, :4] = [first, first, second, second]  # needs 6 frames
    labels[1, :3] = [second, second, second]  # needs 5 frames
    frames, lengths = [6, 8], [4, 3]
    assert [_needed(labels[n], lengths[n]) for n in range(2)] == [6, 5]
    samples.append(sample("repeated-labels", rng.normal(0.0, 1.5, (2, c, t)), labels, frames, lengths))

    # empty targets (loss -sum log p_blank), one with no frames at all (loss 0)
    c, t = 4, 6
    frames, lengths = [6, 5, 0], [0, 2, 0]
    labels = _labels(rng, lengths, t, c, blank_of(c))
    samples.append(sample("empty-target", rng.normal(0.0, 1.5, (3, c, t)), labels, frames, lengths))

    # no alignment: too many repeats for the frames, no frames; and a possible sample
    c, t = 4, 6
    b = blank_of(c)
    frames, lengths = [4, 0, 6], [3, 2, 2]
    labels = _labels(rng, lengths, t, c, b)
    labels[0, :3] = labels[0, 0]  # three copies need 5 frames, 4 given
    assert [_needed(labels[n], lengths[n]) > frames[n] for n in range(3)] == [True, True, False]
    # Without zero_infinity the constant 1e4 of an impossible sample is in the sum
    # a finite-difference probe sees: its rounding (~1e-12) swamps a 1e-6 step.
    resolvable = params["zero_infinity"]
    samples.append(sample("impossible", rng.normal(0.0, 1.5, (3, c, t)), labels, frames, lengths, smooth=resolvable))

    # a target longer than the frames (L > T), and an input length beyond T (acts as T)
    c, t = 4, 6
    frames, lengths = [6, 9], [7, 3]
    labels = _labels(rng, [6, 3], t, c, blank_of(c))
    samples.append(sample("too-long", rng.normal(0.0, 1.5, (2, c, t)), labels, frames, lengths, smooth=resolvable))

    # every label takes exactly one frame: a single alignment
    c, t = 5, 5
    b = blank_of(c)
    choices = [k for k in range(c) if k != b]
    labels = np.full((2, t), b, np.int64)
    for k in range(t):  # no two equal neighbours
        labels[0, k] = rng.choice([j for j in choices if k == 0 or j != labels[0, k - 1]])
    labels[1, :2] = choices[:2]
    frames, lengths = [5, 2], [5, 2]
    assert [_needed(labels[n], lengths[n]) for n in range(2)] == frames
    samples.append(sample("full-length", rng.normal(0.0, 1.5, (2, c, t)), labels, frames, lengths))

    # saturated logits on one alignment: perfect, and its opposite
    c, t = 4, 8
    b = blank_of(c)
    frames, lengths = [8, 6], [3, 2]
    labels = _labels(rng, lengths, t, c, b)
    paths = np.array([_alignment(labels[n], lengths[n], frames[n], t, b) for n in range(2)])
    signs = 2.0 * np.moveaxis(np.eye(c)[paths], -1, 1) - 1.0  # (N, C, T)
    samples.append(sample("perfect", SATURATION * signs, labels, frames, lengths))
    samples.append(sample("saturated-wrong", -SATURATION * signs, labels, frames, lengths))

    # sample weights
    c, t = 4, 7
    frames, lengths = [7, 5, 6], [2, 3, 0]
    labels = _labels(rng, lengths, t, c, blank_of(c))
    samples.append(
        sample(
            "sample-weight",
            rng.normal(0.0, 1.0, (3, c, t)),
            labels,
            frames,
            lengths,
            weight=rng.uniform(0.2, 2.0, (3,)),
        )
    )
    return samples


register(
    LossSpec(
        name="ctc",
        formula=ctc,
        params=ParamSet(
            (
                Param(
                    "class_axis",
                    "int",
                    None,
                    "axis of y_pred holding the classes (1: (N, C, T), -1: (N, T, C)); None means the "
                    "framework's layout (torch 1, Keras -1)",
                    optional=True,
                ),
                Param("blank", "int", 0, "class index of the blank; negative counts from the last class"),
                Param(
                    "normalize_by_length",
                    "bool",
                    False,
                    "divide each sample's loss by max(target length, 1) (torch's reduction='mean')",
                ),
                Param(
                    "zero_infinity",
                    "bool",
                    False,
                    "targets no alignment can produce get loss 0 instead of IMPOSSIBLE_LOSS = 1e4",
                ),
            )
        ),
        inputs=Inputs(
            "classes",
            labels=True,
            target_range=(0.0, 1.0),
            min_ndim=3,
            prediction="logits, log-probabilities or probabilities over the class axis, (N, T, C) or (N, C, T)",
            extras=(
                Extra(
                    "input_lengths",
                    "(N,) integers, the number of valid frames of each sample",
                    shape="sample",
                    integer=True,
                ),
                Extra(
                    "target_lengths", "(N,) integers, the length of each target sequence", shape="sample", integer=True
                ),
            ),
        ),
        family="sequence",
        presets={
            "default": {},
            "torch_mean": {"normalize_by_length": True, "zero_infinity": True},
            "blank_last": {"blank": -1},
            "blank_inside": {"blank": 2, "zero_infinity": True},
        },
        samples=ctc_samples,
    )
)
