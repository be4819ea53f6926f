"""Mixed precision: float16 and bfloat16 inputs are computed in float32 and give a float32 loss.

The rule is written once (``spec.ops.upcast_half``, applied by ``spec.registry.evaluate`` and the
compat shells), so this file checks it where a loss is reached: every registered loss and preset
through the torch ``nn.Module`` and functional form and the Keras class and TensorFlow functional
form, on the first sample of each preset (the parity matrix's own inputs, a few entries each).
Inputs are rounded to the half dtype first; the float32 result on those same rounded inputs is the
reference, which the half-precision call must match within 1e-3 relative, with a float32 value and a
finite gradient of the input's own dtype.  Then the overflow case (512x512 sums above float16's
65504), a Keras model trained one step under a ``mixed_float16`` / ``mixed_bfloat16`` policy, the
compat shells, both compilers and the NumPy and ONNX backends of the primitive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# torch must be imported before tensorflow (see conftest.py): keep this order.
# isort: off
import numpy as np
import pytest
import torch

import keras
import tensorflow as tf

# isort: on

import losses_tf
import losses_torch
import spec
from losses_tf import functional as tf_functional
from losses_torch import functional as torch_functional
from spec import parity

HALF = ("float16", "bfloat16")
RTOL = 1e-3  # the bound on the value against float32
VALUE_ATOL = 1e-6  # for values that are 0 (a perfect prediction)
GRAD_RTOL = 2.0**-7  # twice bfloat16's rounding error (2^-8 relative)
FLOAT16_SUBNORMAL = 2.0**-24  # float16's smallest step, the absolute rounding error of tiny entries
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504

CELLS = [(s.name, preset) for s in spec.specs() for preset in s.presets]
IDS = [f"{name}-{preset}" for name, preset in CELLS]


@dataclass
class Arrays:
    """One case's inputs, floating arrays rounded to a half dtype (held as float32)."""

    y_pred: np.ndarray
    y_true: np.ndarray
    sample_weight: np.ndarray | None
    extras: dict[str, np.ndarray]


def _round(array: np.ndarray) -> np.ndarray:
    """A floating array rounded to bfloat16 and then float16, held as float32; integers unchanged.

    The result is exact in both half dtypes (at most 8 significant bits, within float16's range), so
    one float32 call on it is the reference of both, and each framework sees every input signature
    once (a repeated signature would get a traced graph in ``losses_tf``, a cost this file avoids).
    """
    if not np.issubdtype(array.dtype, np.floating):
        return array
    return torch.from_numpy(np.asarray(array, dtype=np.float32)).bfloat16().half().float().numpy()


def _first_case(name: str, preset: str, layout: str, form: str) -> parity.Case:
    """The first sample of ``preset`` in ``layout`` with reduction ``"mean"``, in target ``form``
    when the loss has that form (else its only one)."""
    loss = spec.get(name)
    cases = [
        case
        for case in parity.cases(loss, {preset: loss.presets[preset]})
        if case.layout in (layout, "channels_first") and case.reduction == "mean"
    ]
    if loss.has_class_axis:
        cases = [case for case in cases if case.layout == layout]
    first = [case for case in cases if case.sample is cases[0].sample]
    return next((case for case in first if case.target_form == form), first[0])


def _arrays(case: parity.Case) -> Arrays:
    return Arrays(
        _round(case.y_pred),
        _round(case.y_true),
        None if case.sample_weight is None else _round(case.sample_weight),
        {k: _round(v) for k, v in case.extras.items()},
    )


# --------------------------------------------------------------------------- the frameworks' calls


def _torch(array: np.ndarray, dtype: str) -> torch.Tensor:
    if not np.issubdtype(array.dtype, np.floating):
        return torch.as_tensor(array)
    return torch.tensor(array, dtype=torch.float32).to(getattr(torch, dtype))


def _tf(array: np.ndarray, dtype: str) -> tf.Tensor:
    if not np.issubdtype(array.dtype, np.floating):
        return tf.constant(array)
    return tf.cast(tf.constant(array, dtype=tf.float32), dtype)


def torch_run(loss: Callable, arrays: Arrays, dtype: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``loss(input, target, ...)`` on tensors of ``dtype``: the value and d value / d input."""
    x = _torch(arrays.y_pred, dtype).requires_grad_(True)
    weight = None if arrays.sample_weight is None else _torch(arrays.sample_weight, dtype)
    extras = {k: _torch(v, dtype) for k, v in arrays.extras.items()}
    value = loss(x, _torch(arrays.y_true, dtype), sample_weight=weight, **extras)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


def tf_run(loss: Callable, arrays: Arrays, dtype: str) -> tuple[tf.Tensor, tf.Tensor]:
    """``loss(y_true, y_pred, ...)`` on tensors of ``dtype``: the value and d value / d y_pred."""
    x = _tf(arrays.y_pred, dtype)
    weight = None if arrays.sample_weight is None else _tf(arrays.sample_weight, dtype)
    extras = {k: _tf(v, dtype) for k, v in arrays.extras.items()}
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(_tf(arrays.y_true, dtype), x, sample_weight=weight, **extras)
        total = tf.reduce_sum(value)
    return value, tape.gradient(total, x)


def assert_float32_result(value: Any, grad: Any, reference: tuple[Any, Any], dtype: str, what: str) -> None:
    """A float32 value within ``RTOL`` of the float32 reference and a finite gradient of ``dtype``
    close to the reference gradient rounded to ``dtype``."""
    assert _dtype_name(value) == "float32", f"{what}: value dtype {_dtype_name(value)}, expected float32"
    assert grad is not None, f"{what}: no gradient reaches the {dtype} input"
    assert _dtype_name(grad) == dtype, f"{what}: gradient dtype {_dtype_name(grad)}, expected the input's {dtype}"
    value, grad = _numpy(value), _numpy(grad)
    expected_value, expected_grad = _numpy(reference[0]), _numpy(reference[1])
    assert np.isfinite(value).all(), f"{what}: value {value} is not finite"
    np.testing.assert_allclose(value, expected_value, rtol=RTOL, atol=VALUE_ATOL, err_msg=f"{what}: value")
    assert np.isfinite(grad).all(), f"{what}: the {dtype} gradient is not finite"
    # the half gradient is the float32 one rounded to the input's dtype (tiny float16 entries are subnormal)
    bound = GRAD_RTOL * np.abs(expected_grad) + FLOAT16_SUBNORMAL
    worst = float(np.max(np.abs(grad - expected_grad) - bound, initial=-1.0))
    assert worst <= 0.0, f"{what}: the {dtype} gradient is not the float32 gradient rounded (excess {worst:.3g})"


def _dtype_name(x: Any) -> str:
    return x.dtype.name if tf.is_tensor(x) else str(x.dtype).removeprefix("torch.")


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().double().numpy()
    return np.asarray(tf.cast(x, tf.float64))


def check_half(run: Callable, loss: Callable, case: parity.Case, what: str) -> None:
    """Both half dtypes against the float32 result on the same rounded inputs."""
    arrays = _arrays(case)
    reference = run(loss, arrays, "float32")
    for dtype in HALF:
        value, grad = run(loss, arrays, dtype)
        assert_float32_result(value, grad, reference, dtype, f"{what} {dtype}")


# --------------------------------------------------------------------------- every registered loss


@pytest.mark.parametrize(("name", "preset"), CELLS, ids=IDS)
def test_torch_half_inputs_compute_in_float32(name, preset):
    """The ``nn.Module`` on integer labels (where the loss takes them), the functional form on
    dense targets: both half dtypes give the float32 value."""
    loss = spec.get(name)
    labels = _first_case(name, preset, "channels_first", "labels")
    dense = _first_case(name, preset, "channels_first", "dense")
    module = losses_torch.loss_class(loss)(**labels.params)
    check_half(torch_run, module, labels, f"torch module {labels.label}")
    function = getattr(torch_functional, name)

    def functional(x, t, **kwargs):
        return function(x, t, **kwargs, **dense.params)

    check_half(torch_run, functional, dense, f"torch functional {dense.label}")


@pytest.mark.parametrize(("name", "preset"), CELLS, ids=IDS)
def test_tensorflow_half_inputs_compute_in_float32(name, preset):
    """The Keras class (default dtype) on dense targets, the functional form on integer labels
    (where the loss takes them), channels-last."""
    loss = spec.get(name)
    dense = _first_case(name, preset, "channels_last", "dense")
    labels = _first_case(name, preset, "channels_last", "labels")
    keras_loss = losses_tf.loss_class(loss)(reduction="mean", **dense.params)
    check_half(tf_run, keras_loss, dense, f"keras class {dense.label}")
    function = getattr(tf_functional, name)

    def functional(t, x, **kwargs):
        return function(t, x, **kwargs, **labels.params)

    check_half(tf_run, functional, labels, f"tensorflow functional {labels.label}")


def test_rounded_inputs_are_exact_in_both_half_dtypes():
    """The premise of the single float32 reference: ``_round`` loses nothing in either dtype."""
    values = _round(np.random.default_rng(0).normal(size=10_000) * np.logspace(-9, 4, 10_000))
    for dtype in HALF:
        np.testing.assert_array_equal(_round(values.astype(np.float64)), values)
        np.testing.assert_array_equal(torch.from_numpy(values).to(getattr(torch, dtype)).float().numpy(), values)


def test_a_half_dtype_keras_loss_still_returns_float32(rng):
    """``dtype="float16"`` rounds the inputs to float16 (Keras' compute dtype) but the loss is
    computed in float32."""
    logits = _round(rng.normal(size=(4, 8, 8, 3)))
    labels = rng.integers(0, 3, (4, 8, 8))
    arrays = Arrays(logits, labels, None, {})
    reference = tf_run(losses_tf.DiceLoss(), arrays, "float32")
    value, grad = tf_run(losses_tf.DiceLoss(dtype="float16"), arrays, "float32")
    assert value.dtype == tf.float32
    np.testing.assert_allclose(value.numpy(), reference[0].numpy(), rtol=RTOL)
    assert grad.dtype == tf.float32 and np.isfinite(grad.numpy()).all()


# --------------------------------------------------------------------------- no overflow on 512x512 sums


BIG = (2, 3, 512, 512)  # 262144 pixels per sample and class, 524288 positions: sums beyond 65504


@pytest.fixture(scope="module")
def big_inputs():
    rng = np.random.default_rng(12)
    logits = _round(rng.normal(0.0, 2.0, BIG))
    labels = rng.integers(0, BIG[1], (BIG[0], *BIG[2:]))
    return logits, labels


@pytest.mark.parametrize("name", ["dice", "categorical_crossentropy"])
def test_512x512_sums_do_not_overflow_in_float16(name, big_inputs):
    """A Dice intersection or cross-entropy sum over 512x512 pixels is far above float16's largest
    value; computed in float16 it becomes inf (NaN for Dice's ratio).  In float32 the value is the
    float32 result, in torch (labels, channels-first) and TensorFlow (one-hot, channels-last)."""
    logits, labels = big_inputs
    assert BIG[2] * BIG[3] > FLOAT16_MAX  # the case is one: a class's pixel count alone overflows float16
    torch_arrays = Arrays(logits, labels, None, {})
    module = losses_torch.loss_class(name)()
    reference = torch_run(module, torch_arrays, "float32")
    value, grad = torch_run(module, torch_arrays, "float16")
    assert_float32_result(value, grad, reference, "float16", f"torch {name}")
    one_hot = np.eye(BIG[1], dtype=np.float32)[labels]  # channels-last
    tf_arrays = Arrays(np.ascontiguousarray(np.moveaxis(logits, 1, -1)), one_hot, None, {})
    function = getattr(tf_functional, name)
    reference = tf_run(function, tf_arrays, "float32")
    value, grad = tf_run(function, tf_arrays, "float16")
    assert_float32_result(value, grad, reference, "float16", f"tensorflow {name}")


# --------------------------------------------------------------------------- Keras mixed-precision policies


@pytest.fixture
def restore_policy():
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_keras_model_trains_under_a_mixed_policy(policy, restore_policy, rng):
    """A model built under a mixed policy outputs half-precision logits; compiled with a lossbridge
    loss it trains one step (loss scaling included for float16), the loss sees the half outputs
    and returns float32, and the weights move."""
    keras.mixed_precision.set_global_policy(policy)
    seen = []

    class Recorded(losses_tf.DiceCrossentropyLoss):
        def __call__(self, y_true, y_pred, sample_weight=None, **extras):
            value = super().__call__(y_true, y_pred, sample_weight, **extras)
            seen.append((y_pred.dtype.name, value.dtype.name))
            return value

    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 2))
    outputs = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=Recorded())
    x = rng.normal(size=(4, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 3, (4, 8, 8))
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert seen and all(pair == (policy.split("_")[1], "float32") for pair in seen), seen
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights, strict=True))


# --------------------------------------------------------------------------- compat shells


# (peer, class, constructor arguments, inputs): every shell kind -- Keras-API classes (a
# keras.losses.Loss in TensorFlow, one with a float16 dtype), torch-convention classes, a function
COMPAT = [
    ("keras", "SparseCategoricalCrossentropy", {"from_logits": True}, "vector labels, logits"),
    ("keras", "Dice", {}, "binary, probabilities"),
    ("keras", "Huber", {"dtype": "float16"}, "binary, logits"),
    ("torch", "CrossEntropyLoss", {"label_smoothing": 0.1}, "map logits, labels"),
    ("torch", "sigmoid_focal_loss", {"reduction": "mean"}, "logits, binary"),
    ("monai", "DiceCELoss", {"softmax": True, "to_onehot_y": True}, "map logits, B1HW labels"),
    ("smp", "DiceLoss", {"mode": "multiclass"}, "map logits, labels"),
]


def _compat_inputs(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The two call arrays of a compat case, in the peer's call order."""
    logits, binary = rng.normal(size=(6, 4)), (rng.random((6, 4)) < 0.5).astype(np.float64)
    map_logits, map_labels = rng.normal(size=(3, 4, 5, 5)), rng.integers(0, 4, (3, 5, 5))
    return {
        "vector labels, logits": (rng.integers(0, 4, (6,)), logits),
        "binary, probabilities": (binary, 1.0 / (1.0 + np.exp(-logits))),
        "binary, logits": (binary, logits),
        "logits, binary": (logits, binary),
        "map logits, labels": (map_logits, map_labels),
        "map logits, B1HW labels": (map_logits, map_labels[:, None]),
    }[kind]


@pytest.mark.parametrize(("peer", "name", "args", "kind"), COMPAT, ids=[f"{p}.{n}" for p, n, _, _ in COMPAT])
def test_compat_classes_compute_half_inputs_in_float32(peer, name, args, kind, rng):
    """The compat shells of both frameworks: half-precision call tensors give the float32 value."""
    import importlib

    first, second = _compat_inputs(rng, kind)
    differentiated = 1 if peer == "keras" else 0  # y_pred is second in Keras' call, first otherwise
    for framework, package in (("torch", "losses_torch"), ("tensorflow", "losses_tf")):
        api = getattr(importlib.import_module(f"{package}.compat.{peer}"), name)
        loss = (lambda *tensors, api=api: api(*tensors, **args)) if name[0].islower() else api(**args)
        arrays = [_round(first), _round(second)]
        reference = _compat_run(framework, loss, arrays, differentiated, "float32")
        for dtype in HALF:
            value, grad = _compat_run(framework, loss, arrays, differentiated, dtype)
            assert_float32_result(value, grad, reference, dtype, f"{framework} {peer}.{name}")


def _compat_run(framework: str, loss: Callable, arrays: list, differentiated: int, dtype: str) -> tuple:
    if framework == "torch":
        tensors = [_torch(a, dtype) for a in arrays]
        tensors[differentiated].requires_grad_(True)
        value = loss(*tensors)
        (grad,) = torch.autograd.grad(value.sum(), tensors[differentiated])
        return value.detach(), grad
    tensors = [_tf(a, dtype) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(tensors[differentiated])
        value = loss(*tensors)
        total = tf.reduce_sum(value)
    return value, tape.gradient(total, tensors[differentiated])


# --------------------------------------------------------------------------- compiled graphs and other backends


def test_compiled_graphs_upcast_too(rng):
    """``torch.compile(fullgraph=True)`` captures the upcast (no graph break) and
    ``tf.function(jit_compile=True)`` compiles it: a float16 input gives the float32 value."""
    logits = _round(rng.normal(size=(2, 3, 6, 6)))
    labels = rng.integers(0, 3, (2, 6, 6))
    arrays = Arrays(logits, labels, None, {})
    module = losses_torch.DiceCrossentropyLoss()
    torch._dynamo.reset()
    compiled = torch.compile(module, fullgraph=True, backend="eager")
    reference = torch_run(module, arrays, "float32")
    assert_float32_result(*torch_run(compiled, arrays, "float16"), reference, "float16", "torch.compile")
    tf_arrays = Arrays(np.ascontiguousarray(np.moveaxis(logits, 1, -1)), labels, None, {})
    function = tf_functional.dice_crossentropy
    xla = tf.function(lambda t, x, sample_weight=None: function(t, x), jit_compile=True)
    reference = tf_run(function, tf_arrays, "float32")
    assert_float32_result(*tf_run(xla, tf_arrays, "float16"), reference, "float16", "tf.function(jit_compile=True)")


def test_numpy_backend_upcasts_float16():
    """The NumPy reference backend: float16 arrays give the float32 value of the same inputs."""
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(3, 4)).astype(np.float16)
    labels = rng.integers(0, 4, (3,))
    dice = spec.get("dice")
    value = dice(logits, labels)
    assert value.dtype == np.float32
    np.testing.assert_array_equal(value, dice(logits.astype(np.float32), labels))


def test_onnx_backend_records_the_upcast_as_a_cast():
    from spec.onnx_ops import Graph, OnnxOps, OnnxTensor
    from spec.ops import upcast_half

    graph = Graph("float32")
    for dtype in HALF:
        tensor = OnnxTensor(graph, f"x_{dtype}", dtype, (2, 3))
        upcast = upcast_half(OnnxOps(), tensor)
        assert upcast.dtype == "float32" and upcast.shape == (2, 3)
    assert [node.op_type for node in graph.nodes] == ["Cast", "Cast"]
    kept = OnnxTensor(graph, "y", "float64", (2,))
    assert upcast_half(OnnxOps(), kept) is kept
