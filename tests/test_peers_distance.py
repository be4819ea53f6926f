"""Distance-map losses and their maps, proven against SciPy and MONAI 1.6.1.

* ``spec.distance.distance_maps`` against ``scipy.ndimage.distance_transform_edt``
  called directly and against brute-force distances, its empty/full-mask
  convention, layouts, labels and errors; the torch and TensorFlow helpers
  return the same arrays (eagerly and inside ``tf.function``).
* ``BoundaryLoss``, ``HausdorffDtLoss`` and ``LogHausdorffDtLoss`` of both
  frameworks against ``monai.losses.BoundaryLoss``, ``HausdorffDTLoss`` and
  ``LogHausdorffDTLoss``: values and gradients with respect to the
  prediction, 2-D and 3-D, over a parameter grid, in float64, with our maps
  computed by our framework helpers from the same targets and predictions.

MONAI precision (why ``MONAI_F32_RTOL``): MONAI casts every distance field to
float32 (``BoundaryLoss``: ``.to(torch.float32)``; ``HausdorffDTLoss``:
``.float()``, then ``d_p**alpha + d_g**alpha`` in float32) before multiplying
it with the float64 prediction.  That rounds each distance weight by up to a
few float32 ulps (about 2e-7 relative), so the Hausdorff comparisons use a
relative tolerance of 1e-6 (scaled by the largest entry for gradients; an
absolute 1e-8 for values).  Measured on the Hausdorff grid: values within 4e-8
relative, gradients within 1.5e-7 of the largest entry.  The boundary loss has
no float32 arithmetic beyond the cast: fed the maps rounded to float32 as
MONAI rounds them, ours agrees at 1e-12; fed float64 maps, at 1e-6 relative
or 1e-8 absolute (its value can cancel to nearly 0; measured at most 2.3e-9).
"""

from __future__ import annotations

import os
import warnings
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch
from scipy import ndimage

import losses_torch
import monai.losses
from losses_torch.distance import distance_maps as torch_maps

import tensorflow as tf

import losses_tf
from losses_tf.distance import distance_maps as tf_maps
from spec.distance import distance_maps

from autodiff import tf_value_and_grad, torch_value_and_grad

# isort: on

RTOL = 1e-12
ATOL = 1e-14
MONAI_F32_RTOL = 1e-6  # MONAI's float32 distance fields (module docstring)
MONAI_F32_ATOL = 1e-8  # for boundary values near 0 (inside and outside terms cancel)

SHAPES = {"2d": (2, 3, 9, 8), "3d": (2, 3, 6, 5, 4)}


# --------------------------------------------------------------------------- helpers


def _rng(*key: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _blob_labels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Labels ``(N, *spatial)`` made of smooth blobs (so distances exceed 1):
    the argmax over classes of blurred noise."""
    noise = ndimage.gaussian_filter(rng.normal(size=shape), sigma=(0, 0) + (1.2,) * (len(shape) - 2))
    return np.argmax(noise, axis=1).astype(np.int64)


def _blob_masks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent 0/1 masks per class, made of blobs."""
    noise = ndimage.gaussian_filter(rng.normal(size=shape), sigma=(0, 0) + (1.2,) * (len(shape) - 2))
    return (noise > 0.1).astype(np.float64)


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.moveaxis(np.eye(num_classes)[labels], -1, 1)


def _to_last(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def _problem(rng: np.random.Generator, shape: tuple[int, ...], activation: str, edge: bool):
    """Logits or probabilities ``x`` near the targets, dense targets and labels
    (None for sigmoid).  ``edge``: image 1 holds background only (full class
    0, empty other classes), and image 0's prediction is class 0 everywhere."""
    num_classes = shape[1]
    if activation == "sigmoid":
        dense, labels = _blob_masks(rng, shape), None
        if edge:
            dense[1] = 0.0
            dense[1, 0] = 1.0
    else:
        labels = _blob_labels(rng, shape)
        if edge:
            labels[1] = 0
        dense = _one_hot(labels, num_classes)
    logits = 2.5 * (2.0 * dense - 1.0) + rng.normal(0.0, 2.0, shape)
    if edge:
        logits[0] = -4.0
        logits[0, 0] = 4.0
    if activation == "none":
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), dense, labels
    return logits, dense, labels


def _assert_close(ours, peer, *, rtol: float, what: str) -> None:
    """Values at ``rtol`` (absolute ``MONAI_F32_ATOL`` at the float32
    tolerance); gradients at ``rtol`` relative to each entry plus ``rtol``
    times the largest entry (the softmax Jacobian mixes classes)."""
    (v_ours, g_ours), (v_peer, g_peer) = ours, peer
    assert np.isfinite(v_ours).all() and np.isfinite(g_ours).all(), f"{what}: NaN/inf"
    atol = MONAI_F32_ATOL if rtol >= MONAI_F32_RTOL else ATOL
    np.testing.assert_allclose(v_ours, v_peer, rtol=rtol, atol=atol, err_msg=f"{what}: value")
    assert np.abs(g_peer).max() > 0.0, f"{what}: peer gradient is identically zero"
    atol = max(rtol * float(np.abs(g_peer).max()), ATOL)
    np.testing.assert_allclose(g_ours, g_peer, rtol=rtol, atol=atol, err_msg=f"{what}: gradient")


def _activate_torch(t: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "softmax":
        return torch.softmax(t, dim=1)
    return torch.sigmoid(t) if activation == "sigmoid" else t


def _activate_tf(t: tf.Tensor, activation: str) -> tf.Tensor:
    if activation == "softmax":
        return tf.nn.softmax(t, axis=-1)
    return tf.sigmoid(t) if activation == "sigmoid" else t


def _our_params(activation: str, **params) -> dict:
    return dict(from_logits=activation != "none", multilabel=activation == "sigmoid", **params)


def _monai_flags(activation: str) -> dict:
    return {"softmax": activation == "softmax", "sigmoid": activation == "sigmoid"}


def _monai_rounding(signed: torch.Tensor) -> torch.Tensor:
    """A signed map as MONAI's ``BoundaryLoss`` rounds it: the distances are
    cast to float32 before ``1 - D_in`` (inside, where the map is <= 0; the
    map of an empty or full mask is 0 either way)."""
    inside = signed <= 0.0
    return torch.where(inside, 1.0 - (1.0 - signed).float().double(), signed.float().double())


def run_torch(name, params, x, target, *, kind, hausdorff, activation, num_classes, reduction="mean", rounded=False):
    """Our torch module on channels-first inputs, maps from ``losses_torch.distance``."""
    loss = getattr(losses_torch, name)(reduction=reduction, **params)
    y = torch.as_tensor(target)
    labels = not torch.is_floating_point(y)
    target_map = torch_maps(y, kind=kind, num_classes=num_classes if labels else None, dtype=torch.float64)
    if rounded:
        target_map = _monai_rounding(target_map)

    def fn(t: torch.Tensor) -> torch.Tensor:
        extras = {"target_distance": target_map}
        if hausdorff:
            extras["pred_distance"] = torch_maps(_activate_torch(t, activation))
        return loss(t, y, **extras)

    return torch_value_and_grad(fn, x)


def run_keras(name, params, x, target, *, kind, hausdorff, activation, num_classes, reduction="sum_over_batch_size"):
    """Our Keras loss on the channels-last problem, maps from
    ``losses_tf.distance``; the gradient is moved back to channels-first."""
    loss = getattr(losses_tf, name)(reduction=reduction, dtype="float64", **params)
    labels = np.issubdtype(target.dtype, np.integer)
    y = tf.constant(target if labels else _to_last(target))
    target_map = tf_maps(y, kind=kind, num_classes=num_classes if labels else None, dtype="float64")

    def fn(t: tf.Tensor) -> tf.Tensor:
        extras = {"target_distance": target_map}
        if hausdorff:
            extras["pred_distance"] = tf_maps(_activate_tf(t, activation))
        return loss(y, t, **extras)

    value, grad = tf_value_and_grad(fn, _to_last(x))
    return value, np.moveaxis(grad, -1, 1)


def run_monai(loss, x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = torch.as_tensor(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns about single-channel flags it ignores
        return torch_value_and_grad(lambda t: loss(t, y), x)


def _targets_for(form: str, dense: np.ndarray, labels: np.ndarray | None):
    """(ours, MONAI's, MONAI's to_onehot_y) for a target form."""
    if form == "labels":
        return labels, labels[:, None], True
    return dense, dense, False


# --------------------------------------------------------------------------- the maps helper


def _brute_force(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D_in, D_out) of one spatial mask by comparing every pair of pixels."""
    points = np.argwhere(np.ones_like(inside, dtype=bool)).astype(np.float64)
    flat = inside.reshape(-1)
    distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    to_background = np.where(flat[None, :], np.inf, distances).min(axis=1)
    to_foreground = np.where(flat[None, :], distances, np.inf).min(axis=1)
    d_in = np.where(flat, to_background, 0.0).reshape(inside.shape)
    d_out = np.where(flat, 0.0, to_foreground).reshape(inside.shape)
    return d_in, d_out


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_maps_equal_scipy_per_sample_and_class(dims):
    rng = _rng("scipy", dims)
    masks = _blob_masks(rng, SHAPES[dims])
    unsigned = distance_maps(masks)
    signed = distance_maps(masks, kind="signed")
    assert unsigned.dtype == np.float64 and unsigned.shape == masks.shape
    for n in range(masks.shape[0]):
        for c in range(masks.shape[1]):
            inside = masks[n, c] > 0.5
            assert inside.any() and not inside.all()
            d_in, d_out = ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside)
            np.testing.assert_array_equal(unsigned[n, c], d_in + d_out)
            np.testing.assert_array_equal(signed[n, c], np.where(inside, 1.0 - d_in, d_out))
            assert unsigned[n, c].min() >= 1.0  # every pixel is at least one step from the other region
            np.testing.assert_array_equal(signed[n, c] <= 0.0, inside)


@pytest.mark.parametrize("spatial", [(7,), (5, 6), (3, 4, 4)], ids=["1d", "2d", "3d"])
def test_maps_equal_brute_force_distances(spatial):
    rng = _rng("brute", spatial)
    masks = (rng.random((2, 2, *spatial)) < 0.4).astype(np.float64)
    masks[0, 0].flat[0], masks[0, 0].flat[-1] = 1.0, 0.0  # both regions present
    unsigned, signed = distance_maps(masks), distance_maps(masks, kind="signed")
    for n in range(2):
        for c in range(2):
            inside = masks[n, c] > 0.5
            if not inside.any() or inside.all():
                continue
            d_in, d_out = _brute_force(inside)
            np.testing.assert_allclose(unsigned[n, c], d_in + d_out, rtol=1e-15)
            np.testing.assert_allclose(signed[n, c], np.where(inside, 1.0 - d_in, d_out), rtol=1e-15, atol=0)


def test_empty_and_full_masks_give_zero_maps():
    masks = np.zeros((3, 2, 4, 5))
    masks[1] = 1.0  # image 1: both classes full
    masks[2, 0, 1:3, 2:4] = 1.0  # image 2: class 0 has an interface, class 1 empty
    for kind in ("unsigned", "signed"):
        maps = distance_maps(masks, kind=kind)
        assert not maps[0].any() and not maps[1].any() and not maps[2, 1].any(), kind
        assert maps[2, 0].any(), kind
    # SciPy alone measures a full mask against a phantom background: not 0
    assert ndimage.distance_transform_edt(np.ones((4, 5))).max() > 0


def test_layout_labels_threshold_and_ignored_labels():
    rng = _rng("layout")
    labels = _blob_labels(rng, (2, 3, 6, 7))
    dense = _one_hot(labels, 3)
    for kind in ("unsigned", "signed"):
        first = distance_maps(dense, kind=kind)
        np.testing.assert_array_equal(distance_maps(_to_last(dense), kind=kind, class_axis=-1), _to_last(first))
        np.testing.assert_array_equal(distance_maps(labels, kind=kind, num_classes=3), first)
        np.testing.assert_array_equal(distance_maps(labels, kind=kind, num_classes=3, class_axis=-1), _to_last(first))
        # soft targets and probabilities are thresholded at 0.5, bool masks taken as they are
        np.testing.assert_array_equal(distance_maps(0.3 + 0.4 * dense, kind=kind), first)
        np.testing.assert_array_equal(distance_maps(dense > 0.5, kind=kind), first)
        np.testing.assert_array_equal(distance_maps(0.3 + 0.4 * dense, kind=kind, threshold=0.8), 0.0 * first)
    ignored = labels.copy()
    ignored[0, :2] = 255  # an ignored label is background in every class
    expected = _one_hot(np.where(ignored == 255, 0, ignored), 3)
    expected[0, 0, :2] = 0.0
    np.testing.assert_array_equal(distance_maps(ignored, num_classes=3), distance_maps(expected))


@pytest.mark.parametrize(
    ("mask", "kwargs", "error", "message"),
    [
        (np.zeros((2, 3, 4)), {"kind": "sined"}, ValueError, r"kind must be one of 'unsigned', 'signed', got 'sined'"),
        (np.zeros((2, 3)), {}, ValueError, r"expected \(N, C, \*spatial\) masks with at least one spatial axis"),
        (np.zeros((2,), dtype=np.int64), {"num_classes": 2}, ValueError, r"\(N, \*spatial\) labels"),
        (np.zeros((2, 3, 4)), {"class_axis": 0}, ValueError, r"class_axis=0 is the batch axis"),
        (np.zeros((2, 3, 4)), {"class_axis": 3}, ValueError, r"class_axis=3 is out of range for 3 dimensions"),
        (np.zeros((2, 3)), {"num_classes": 2}, TypeError, r"num_classes=2 needs integer labels, got dtype float64"),
        (np.zeros((2, 3), dtype=np.int64), {"num_classes": 0}, ValueError, r"num_classes must be >= 1, got 0"),
    ],
)
def test_maps_bad_arguments(mask, kwargs, error, message):
    with pytest.raises(error, match=message):
        distance_maps(mask, **kwargs)


@pytest.mark.parametrize("kind", ["unsigned", "signed"])
def test_framework_helpers_return_the_same_arrays(kind):
    rng = _rng("helpers", kind)
    labels = _blob_labels(rng, (2, 3, 5, 6, 4))
    labels[1] = 2  # a full and two empty masks
    # probabilities well away from the 0.5 threshold, so bfloat16 rounding keeps every mask
    probs = 0.2 + 0.6 * _one_hot(labels, 3) + rng.uniform(-0.1, 0.1, (2, 3, 5, 6, 4))
    expected = distance_maps(probs, kind=kind)
    expected_labels = distance_maps(labels, kind=kind, num_classes=3)

    x = torch.tensor(probs, requires_grad=True)
    from_torch = torch_maps(x, kind=kind)
    assert from_torch.dtype == torch.float64 and not from_torch.requires_grad
    np.testing.assert_array_equal(from_torch.numpy(), expected)
    np.testing.assert_array_equal(torch_maps(x.float(), kind=kind).numpy(), expected.astype(np.float32))
    assert torch.equal(torch_maps(x.bfloat16(), kind=kind), torch.tensor(expected).bfloat16())
    from_labels = torch_maps(torch.as_tensor(labels), kind=kind, num_classes=3)
    assert from_labels.dtype == torch.get_default_dtype()
    np.testing.assert_array_equal(from_labels.numpy(), expected_labels.astype(np.float32))

    last = tf.constant(_to_last(probs))
    from_tf = tf_maps(last, kind=kind)
    assert from_tf.dtype == tf.float64
    np.testing.assert_array_equal(from_tf.numpy(), _to_last(expected))
    as_float32 = tf_maps(last, kind=kind, class_axis=-1, dtype="float32").numpy()
    np.testing.assert_array_equal(as_float32, _to_last(expected).astype(np.float32))
    labels_tf = tf_maps(tf.constant(labels), kind=kind, num_classes=3)
    assert labels_tf.dtype == tf.float32
    np.testing.assert_array_equal(labels_tf.numpy(), _to_last(expected_labels).astype(np.float32))
    first_tf = tf_maps(tf.constant(probs), kind=kind, class_axis=1)
    np.testing.assert_array_equal(first_tf.numpy(), from_torch.numpy())


def test_tf_helper_inside_tf_function():
    """Graph mode goes through tf.numpy_function; the static shape is kept."""
    rng = _rng("tf-function")
    labels = _blob_labels(rng, (2, 3, 6, 5))
    probs = _to_last(np.clip(_one_hot(labels, 3) + rng.normal(0.0, 0.3, (2, 3, 6, 5)), 0.0, 1.0))
    shapes = []

    @tf.function
    def maps(mask, label_mask):
        dense, sparse = tf_maps(mask, kind="signed"), tf_maps(label_mask, kind="signed", num_classes=3)
        shapes.append((dense.shape.as_list(), sparse.shape.as_list()))
        return dense, sparse

    dense, sparse = maps(tf.constant(probs), tf.constant(labels))
    assert shapes == [([2, 6, 5, 3], [2, 6, 5, 3])]
    np.testing.assert_array_equal(dense.numpy(), distance_maps(probs, kind="signed", class_axis=-1))
    assert sparse.dtype == tf.float32  # keras.config.floatx() for integer labels
    expected = _to_last(distance_maps(labels, kind="signed", num_classes=3)).astype(np.float32)
    np.testing.assert_array_equal(sparse.numpy(), expected)


def test_keras_loss_in_tf_function_with_graph_maps():
    """The whole Keras step traced: prediction maps made inside the graph."""
    rng = _rng("tf-function-loss")
    x, _, labels = _problem(rng, SHAPES["2d"], "softmax", edge=False)
    loss = losses_tf.HausdorffDtLoss(dtype="float64")
    y = tf.constant(labels)
    target_map = tf_maps(y, num_classes=3, dtype="float64")

    @tf.function
    def step(t):
        return loss(y, t, pred_distance=tf_maps(tf.nn.softmax(t)), target_distance=target_map)

    eager = loss(
        y, tf.constant(_to_last(x)), pred_distance=tf_maps(tf.nn.softmax(_to_last(x))), target_distance=target_map
    )
    np.testing.assert_allclose(step(tf.constant(_to_last(x))).numpy(), eager.numpy(), rtol=RTOL)


# --------------------------------------------------------------------------- MONAI BoundaryLoss

ACTIVATIONS = ["softmax", "sigmoid", "none"]
FORMS = ["one_hot", "labels"]


def _cases(forms: bool = True):
    for activation in ACTIVATIONS:
        for form in FORMS if forms else ["one_hot"]:
            if form == "labels" and activation == "sigmoid":
                continue  # independent channels take dense targets
            yield activation, form


@pytest.mark.parametrize("edge", [False, True], ids=["blobs", "empty_full"])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("include_background", [True, False], ids=["bg", "no_bg"])
@pytest.mark.parametrize(("activation", "form"), list(_cases()))
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_boundary(dims, activation, form, include_background, batch, edge):
    shape = SHAPES[dims]
    rng = _rng("boundary", dims, activation, form, include_background, batch, edge)
    x, dense, labels = _problem(rng, shape, activation, edge)
    ours_target, peer_target, to_onehot = _targets_for(form, dense, labels)
    peer_loss = monai.losses.BoundaryLoss(
        include_background=include_background, to_onehot_y=to_onehot, batch=batch, **_monai_flags(activation)
    )
    peer = run_monai(peer_loss, x, peer_target)
    params = _our_params(activation, include_background=include_background, batch=batch)
    common = dict(kind="signed", hausdorff=False, activation=activation, num_classes=shape[1])
    # MONAI's float32 maps, given to ours: equal up to summation order
    ours = run_torch("BoundaryLoss", params, x, ours_target, rounded=True, **common)
    _assert_close(ours, peer, rtol=RTOL, what="torch, float32-rounded maps")
    ours = run_torch("BoundaryLoss", params, x, ours_target, **common)
    _assert_close(ours, peer, rtol=MONAI_F32_RTOL, what="torch")
    ours = run_keras("BoundaryLoss", params, x, ours_target, **common)
    _assert_close(ours, peer, rtol=MONAI_F32_RTOL, what="keras")
    # ours with the other batch setting: the same mean
    other = run_torch("BoundaryLoss", dict(params, batch=not batch), x, ours_target, rounded=True, **common)
    _assert_close(other, peer, rtol=RTOL, what="torch, other batch")


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_boundary_sum_and_none(dims):
    """MONAI keeps one value per sample and class: its "none" averaged over
    classes is ours, its "sum" is ours times the number of classes."""
    shape = SHAPES[dims]
    x, dense, _ = _problem(_rng("boundary-reductions", dims), shape, "softmax", edge=True)
    common = dict(kind="signed", hausdorff=False, activation="softmax", num_classes=shape[1], rounded=True)
    for include_background, classes in [(True, shape[1]), (False, shape[1] - 1)]:
        peer_sum = run_monai(
            monai.losses.BoundaryLoss(softmax=True, include_background=include_background, reduction="sum"), x, dense
        )
        params = _our_params("softmax", include_background=include_background)
        ours_sum = run_torch("BoundaryLoss", params, x, dense, reduction="sum", **common)
        _assert_close((classes * ours_sum[0], classes * ours_sum[1]), peer_sum, rtol=RTOL, what="sum")
        peer_none = monai.losses.BoundaryLoss(softmax=True, include_background=include_background, reduction="none")(
            torch.as_tensor(x), torch.as_tensor(dense)
        )
        ours_none = run_torch("BoundaryLoss", params, x, dense, reduction="none", **common)[0]
        assert peer_none.shape == (shape[0], classes)
        np.testing.assert_allclose(ours_none, peer_none.mean(dim=1).numpy(), rtol=RTOL, atol=ATOL)


def test_monai_boundary_single_channel_ignores_include_background():
    shape = (3, 1, 7, 6)
    rng = _rng("boundary-single")
    x = rng.normal(size=shape)
    dense = _blob_masks(rng, shape)
    peer = run_monai(monai.losses.BoundaryLoss(sigmoid=True, include_background=False), x, dense)
    params = _our_params("sigmoid", include_background=False)
    common = dict(kind="signed", hausdorff=False, activation="sigmoid", num_classes=1)
    _assert_close(run_torch("BoundaryLoss", params, x, dense, rounded=True, **common), peer, rtol=RTOL, what="torch")
    _assert_close(run_keras("BoundaryLoss", params, x, dense, **common), peer, rtol=MONAI_F32_RTOL, what="keras")


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_boundary_subtract_target(dims):
    """subtract_target shifts the value by a constant: the same gradient, a
    value >= 0 for 0/1 targets, exactly 0 at a perfect prediction."""
    shape = SHAPES[dims]
    x, dense, labels = _problem(_rng("subtract", dims), shape, "none", edge=True)
    common = dict(kind="signed", hausdorff=False, activation="none", num_classes=shape[1], reduction="none")
    plain = run_torch("BoundaryLoss", _our_params("none"), x, labels, **common)
    shifted = run_torch("BoundaryLoss", _our_params("none", subtract_target=True), x, labels, **common)
    np.testing.assert_allclose(shifted[1], plain[1], rtol=RTOL, atol=ATOL)
    # image 1 holds background only: every map is 0, and so is its loss
    assert (shifted[0] >= 0.0).all() and shifted[0][0] > 0.0 and shifted[0][1] == 0.0
    assert (plain[0] <= shifted[0]).all()
    perfect = run_torch("BoundaryLoss", _our_params("none", subtract_target=True), dense, labels, **common)[0]
    np.testing.assert_array_equal(perfect, 0.0)
    keras_perfect = run_keras(
        "BoundaryLoss", _our_params("none", subtract_target=True), dense, labels, **dict(common, reduction="none")
    )[0]
    np.testing.assert_array_equal(keras_perfect, 0.0)


# --------------------------------------------------------------------------- MONAI Hausdorff DT


@pytest.mark.parametrize("alpha", [2.0, 1.0, 0.5, 0.0])
@pytest.mark.parametrize("batch", [False, True], ids=["per_sample", "batch"])
@pytest.mark.parametrize("include_background", [False, True], ids=["no_bg", "bg"])
@pytest.mark.parametrize(("activation", "form"), list(_cases()))
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_hausdorff_dt(dims, activation, form, include_background, batch, alpha):
    shape = SHAPES[dims]
    rng = _rng("hausdorff", dims, activation, form, include_background, batch, alpha)
    x, dense, labels = _problem(rng, shape, activation, edge=alpha == 1.0)
    ours_target, peer_target, to_onehot = _targets_for(form, dense, labels)
    peer_loss = monai.losses.HausdorffDTLoss(
        alpha=alpha,
        include_background=include_background,
        to_onehot_y=to_onehot,
        batch=batch,
        **_monai_flags(activation),
    )
    peer = run_monai(peer_loss, x, peer_target)
    params = _our_params(activation, alpha=alpha, include_background=include_background, batch=batch)
    common = dict(kind="unsigned", hausdorff=True, activation=activation, num_classes=shape[1])
    _assert_close(
        run_torch("HausdorffDtLoss", params, x, ours_target, **common), peer, rtol=MONAI_F32_RTOL, what="torch"
    )
    _assert_close(
        run_keras("HausdorffDtLoss", params, x, ours_target, **common), peer, rtol=MONAI_F32_RTOL, what="keras"
    )
    other = run_torch("HausdorffDtLoss", dict(params, batch=not batch), x, ours_target, **common)
    _assert_close(other, peer, rtol=MONAI_F32_RTOL, what="torch, other batch")


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_hausdorff_dt_sum_and_none(dims):
    shape = SHAPES[dims]
    x, dense, _ = _problem(_rng("hausdorff-reductions", dims), shape, "softmax", edge=True)
    common = dict(kind="unsigned", hausdorff=True, activation="softmax", num_classes=shape[1])
    for include_background, classes in [(True, shape[1]), (False, shape[1] - 1)]:
        kwargs = dict(softmax=True, include_background=include_background)
        peer_sum = run_monai(monai.losses.HausdorffDTLoss(reduction="sum", **kwargs), x, dense)
        params = _our_params("softmax", include_background=include_background)
        ours_sum = run_torch("HausdorffDtLoss", params, x, dense, reduction="sum", **common)
        _assert_close((classes * ours_sum[0], classes * ours_sum[1]), peer_sum, rtol=MONAI_F32_RTOL, what="sum")
        peer_none = monai.losses.HausdorffDTLoss(reduction="none", **kwargs)(torch.as_tensor(x), torch.as_tensor(dense))
        assert peer_none.shape == (shape[0], classes) + (1,) * (len(shape) - 2)
        ours_none = run_torch("HausdorffDtLoss", params, x, dense, reduction="none", **common)[0]
        np.testing.assert_allclose(
            ours_none, peer_none.reshape(shape[0], classes).mean(dim=1).numpy(), rtol=MONAI_F32_RTOL
        )


def test_monai_hausdorff_dt_single_channel_ignores_include_background():
    shape = (3, 1, 6, 7, 4)
    rng = _rng("hausdorff-single")
    x = rng.normal(size=shape)
    dense = _blob_masks(rng, shape)
    dense[2] = 1.0  # a full mask
    peer = run_monai(monai.losses.HausdorffDTLoss(sigmoid=True), x, dense)  # include_background=False by default
    params = _our_params("sigmoid")
    common = dict(kind="unsigned", hausdorff=True, activation="sigmoid", num_classes=1)
    _assert_close(run_torch("HausdorffDtLoss", params, x, dense, **common), peer, rtol=MONAI_F32_RTOL, what="torch")
    _assert_close(run_keras("HausdorffDtLoss", params, x, dense, **common), peer, rtol=MONAI_F32_RTOL, what="keras")


@pytest.mark.parametrize("alpha", [2.0, 0.5])
@pytest.mark.parametrize("monai_batch", [False, True], ids=["monai_per_sample", "monai_batch"])
@pytest.mark.parametrize("include_background", [False, True], ids=["no_bg", "bg"])
@pytest.mark.parametrize(("activation", "form"), list(_cases()))
@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_log_hausdorff_dt(dims, activation, form, include_background, monai_batch, alpha):
    """MONAI takes the logarithm after its mean over samples and classes: ours with batch=True."""
    shape = SHAPES[dims]
    rng = _rng("log-hausdorff", dims, activation, form, include_background, monai_batch, alpha)
    x, dense, labels = _problem(rng, shape, activation, edge=monai_batch)
    ours_target, peer_target, to_onehot = _targets_for(form, dense, labels)
    peer_loss = monai.losses.LogHausdorffDTLoss(
        alpha=alpha,
        include_background=include_background,
        to_onehot_y=to_onehot,
        batch=monai_batch,
        **_monai_flags(activation),
    )
    peer = run_monai(peer_loss, x, peer_target)
    params = _our_params(activation, alpha=alpha, include_background=include_background, batch=True)
    common = dict(kind="unsigned", hausdorff=True, activation=activation, num_classes=shape[1])
    _assert_close(
        run_torch("LogHausdorffDtLoss", params, x, ours_target, **common), peer, rtol=MONAI_F32_RTOL, what="torch"
    )
    _assert_close(
        run_keras("LogHausdorffDtLoss", params, x, ours_target, **common), peer, rtol=MONAI_F32_RTOL, what="keras"
    )


@pytest.mark.parametrize("dims", sorted(SHAPES))
def test_monai_log_hausdorff_dt_single_sample_per_sample(dims):
    """With one sample, MONAI's value is also ours with batch=False."""
    shape = (1, *SHAPES[dims][1:])
    x, _, labels = _problem(_rng("log-hausdorff-one", dims), shape, "softmax", edge=False)
    peer = run_monai(monai.losses.LogHausdorffDTLoss(softmax=True, to_onehot_y=True), x, labels[:, None])
    common = dict(kind="unsigned", hausdorff=True, activation="softmax", num_classes=shape[1])
    ours = run_torch("LogHausdorffDtLoss", _our_params("softmax"), x, labels, **common)
    _assert_close(ours, peer, rtol=MONAI_F32_RTOL, what="torch")


def test_monai_log_hausdorff_dt_per_sample_differs():
    """Ours with batch=False averages log(1 + L_n) over samples; MONAI's is
    log(1 + mean L_n), which is larger (Jensen) -- no setting of MONAI gives ours."""
    shape = SHAPES["2d"]
    x, dense, labels = _problem(_rng("log-hausdorff-differs"), shape, "softmax", edge=False)
    peer = run_monai(monai.losses.LogHausdorffDTLoss(softmax=True), x, dense)[0]
    common = dict(kind="unsigned", hausdorff=True, activation="softmax", num_classes=shape[1])
    ours = run_torch("LogHausdorffDtLoss", _our_params("softmax"), x, labels, **common)[0]
    assert ours < peer * (1.0 - 1e-6)


def test_hausdorff_dt_perfect_prediction_is_zero():
    shape = SHAPES["3d"]
    _, dense, labels = _problem(_rng("hausdorff-perfect"), shape, "none", edge=True)
    common = dict(kind="unsigned", hausdorff=True, activation="none", num_classes=shape[1], reduction="none")
    for name in ("HausdorffDtLoss", "LogHausdorffDtLoss"):
        value, grad = run_torch(name, _our_params("none", include_background=True), dense, labels, **common)
        np.testing.assert_array_equal(value, 0.0)
        np.testing.assert_array_equal(grad, 0.0)
