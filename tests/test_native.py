"""Each side feels native: torch modules and functions, Keras losses in
``model.fit`` (graph mode), defaults per framework layout, user-defined losses."""

import math
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import losses_tf
import losses_torch
import spec
from spec.registry import unregister

RNG = np.random.default_rng(3)
LOGITS = RNG.normal(size=(2, 3, 4, 5))
LABELS = RNG.integers(0, 3, (2, 4, 5))


def test_torch_module_conventions():
    loss = losses_torch.DiceLoss(smooth=1.0)
    assert isinstance(loss, torch.nn.Module)
    assert repr(loss) == "DiceLoss(smooth=1.0)"
    assert list(loss.state_dict()) == []
    x = torch.tensor(LOGITS, requires_grad=True)
    value = loss(x, torch.tensor(LABELS))
    value.backward()
    assert value.shape == () and x.grad.shape == x.shape


def test_reduction_none_shapes():
    x, t = torch.tensor(LOGITS), torch.tensor(LABELS)
    assert losses_torch.CategoricalCrossentropyLoss(reduction="none")(x, t).shape == (2, 4, 5)
    assert losses_torch.DiceLoss(reduction="none")(x, t).shape == (2,)
    assert losses_torch.DiceLoss(reduction="none", batch=True)(x, t).shape == ()
    keras_ce = losses_tf.CategoricalCrossentropyLoss(reduction=None)
    assert keras_ce(tf.constant(LABELS), tf.constant(np.moveaxis(LOGITS, 1, -1))).shape == (2, 4, 5)


def test_functional_equals_module():
    x, t = torch.tensor(LOGITS), torch.tensor(LABELS)
    module = losses_torch.TverskyLoss(alpha=0.2, beta=0.8, reduction="sum")(x, t)
    function = losses_torch.functional.tversky(x, t, alpha=0.2, beta=0.8, reduction="sum")
    assert torch.equal(module, function)
    y_pred = tf.constant(np.moveaxis(LOGITS, 1, -1))
    keras_value = losses_tf.TverskyLoss(alpha=0.2, beta=0.8, reduction="sum", dtype="float64")(
        tf.constant(LABELS), y_pred
    )
    keras_function = losses_tf.functional.tversky(tf.constant(LABELS), y_pred, alpha=0.2, beta=0.8, reduction="sum")
    np.testing.assert_allclose(keras_value, keras_function, rtol=1e-15)
    np.testing.assert_allclose(keras_value, module.item(), rtol=1e-12)


def test_framework_default_layouts():
    """torch reads the class axis at 1, Keras at -1, with the same config."""
    torch_value = losses_torch.CategoricalCrossentropyLoss()(torch.tensor(LOGITS), torch.tensor(LABELS)).item()
    keras_value = losses_tf.CategoricalCrossentropyLoss(dtype="float64")(
        tf.constant(LABELS), tf.constant(np.moveaxis(LOGITS, 1, -1))
    )
    np.testing.assert_allclose(float(keras_value), torch_value, rtol=1e-12)


def test_keras_casts_to_its_dtype_policy():
    loss = losses_tf.DiceLoss()
    value = loss(tf.constant(LABELS), tf.constant(np.moveaxis(LOGITS, 1, -1)))
    assert value.dtype == tf.float32


def test_keras_fit_sparse_and_elementwise_targets():
    """In model.fit the loss runs traced (tf.function) with an unknown batch
    size; Keras pairs (N,) targets with (N, 1) outputs."""
    x = RNG.normal(size=(8, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=losses_tf.CategoricalCrossentropyLoss(ignore_index=-1))
    history = model.fit(x, np.array([0, 1, 2, -1, 0, 1, 2, 0]), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    regression = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    regression.compile(optimizer="sgd", loss=losses_tf.HuberLoss(delta=0.5))
    history = regression.fit(x, RNG.normal(size=(8,)).astype("float32"), epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_keras_fit_matches_eager_value():
    x = RNG.normal(size=(6, 5, 5, 2)).astype("float32")
    y = RNG.integers(0, 3, (6, 5, 5))
    model = keras.Sequential([keras.Input((5, 5, 2)), keras.layers.Conv2D(3, 1)])
    loss = losses_tf.GeneralizedDiceLoss()
    model.compile(optimizer="sgd", loss=loss)
    evaluated = model.evaluate(x, y, batch_size=6, verbose=0)
    np.testing.assert_allclose(evaluated, float(loss(y, model(x))), rtol=1e-6)


@pytest.fixture
def scaled_l2():
    @spec.define_loss(
        "scaled_l2_for_tests",
        params=[spec.Param("scale", "float", 1.0, "factor on the squared error", low=0.0)],
        presets={"default": {}, "scaled": {"scale": 3.0}},
    )
    def scaled_l2(ops, y_pred, y_true, *, scale):
        r"""Scaled squared error.

        .. math:: \ell = s\,(\hat y - y)^2
        """
        error = y_pred - y_true
        return scale * error * error

    yield scaled_l2
    unregister("scaled_l2_for_tests")


def test_user_defined_loss_in_both_frameworks(scaled_l2, frameworks):
    from spec import parity

    torch_cls = losses_torch.loss_class("scaled_l2_for_tests")
    keras_cls = losses_tf.loss_class("scaled_l2_for_tests")
    assert torch_cls.__name__ == keras_cls.__name__ == "ScaledL2ForTestsLoss"
    assert losses_torch.ScaledL2ForTestsLoss is torch_cls
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    torch_value = torch_cls(scale=3.0)(torch.tensor(a), torch.tensor(b)).item()
    keras_value = float(keras_cls(scale=3.0, dtype="float64")(tf.constant(b), tf.constant(a)))
    np.testing.assert_allclose(keras_value, 3.0 * np.mean((a - b) ** 2), rtol=1e-14)
    np.testing.assert_allclose(torch_value, keras_value, rtol=1e-14)
    rows = parity.check(scaled_l2, frameworks=frameworks)
    assert [row.preset for row in rows] == ["default", "scaled"] and all(row.passed for row in rows)
    rebuilt = losses_tf.from_config(torch_cls(scale=2.0).get_config())
    assert rebuilt.params == {"scale": 2.0}


# -- fused native kernels (losses_torch/_fused.py) against the composite spec ops --------------

CE_VARIANTS = [
    {},
    {"class_weights": [0.5, 2.0, 1.0]},
    {"label_smoothing": 0.2},
    {"ignore_index": 1},
    {"class_weights": [0.5, 2.0, 1.0], "label_smoothing": 0.1, "ignore_index": 255},
]


def _torch_value_and_grad(fn, x, weight=None):
    x = x.clone().requires_grad_(True)
    value = fn(x)
    total = value.sum() if weight is None else (value * weight).sum()
    (grad,) = torch.autograd.grad(total, x)
    return value.detach(), grad


def _composite(monkeypatch, fn):
    with monkeypatch.context() as patch:
        patch.setenv("LOSSBRIDGE_COMPOSITE_OPS", "1")
        return fn()


@pytest.mark.parametrize("options", CE_VARIANTS, ids=lambda o: "-".join(o) or "plain")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("axis", [1, 3])
def test_fused_cross_entropy_kernel_equals_composite(options, reduction, axis, monkeypatch):
    """The torch kernel (forced at every size) against the composite op: values
    and gradients, both layouts, saturated logits included."""
    from losses_torch import ops as torch_ops

    monkeypatch.setattr(torch_ops, "FUSED_MIN_SIZE", 0)
    ops = torch_ops.TorchOps()
    logits = RNG.normal(0, 3, (3, 3, 4, 5))
    logits[1, :, 0, :3] = [[800.0], [-800.0], [0.0]]  # p_t underflows in float64 where the label is 1 or 2
    logits = torch.tensor(np.moveaxis(logits, 1, axis))
    labels = RNG.integers(0, 3, (3, 4, 5))
    labels[1, 0, :3] = [0, 1, 2]
    labels[0, :2] = options.get("ignore_index", 0)
    labels = torch.tensor(labels)
    weight = torch.tensor(RNG.uniform(0.5, 2.0, (3, 4, 5))) if reduction == "none" else None

    def run():
        call = lambda x: ops.sparse_softmax_cross_entropy(x, labels, axis, reduction, **options)
        return _torch_value_and_grad(call, logits, weight)

    fused, composite = run(), _composite(monkeypatch, run)
    for ours, theirs in zip(fused, composite, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-15)


STATISTICS_CASES = [
    ("labels", "softmax", {}),
    ("labels", "softmax", {"mask": True}),
    ("labels", "softmax", {"squared": True}),
    ("labels", "none", {"mask": True, "squared": True}),
    ("labels", "softmax", {"batch": True}),
    ("dense", "softmax", {}),
    ("dense", "sigmoid", {"squared": True}),
    ("dense", "none", {"batch": True}),
]


@pytest.mark.parametrize(("target", "activation", "options"), STATISTICS_CASES, ids=str)
@pytest.mark.parametrize("axis", [1, 3])
def test_fused_class_statistics_equal_composite(target, activation, options, axis, monkeypatch):
    """``class_statistics`` (I, P, G) by the torch kernels against the composite
    one-hot sums: values and gradients w.r.t. y_pred (and soft targets)."""
    from losses_torch.ops import TorchOps

    ops = TorchOps()
    x = RNG.normal(0, 2, (3, 3, 4, 5))
    x = torch.tensor(np.moveaxis(1.0 / (1.0 + np.exp(-x)) if activation == "none" else x, 1, axis))
    labels = torch.tensor(RNG.integers(0, 3, (3, 4, 5)))
    valid = torch.tensor(RNG.uniform(size=(3, 4, 5)) > 0.3, dtype=x.dtype)
    mask = valid.unsqueeze(axis) if options.get("mask") else None
    dense = torch.tensor(np.moveaxis(RNG.uniform(size=(3, 3, 4, 5)), 1, axis), requires_grad=True)
    y_true = labels if target == "labels" else dense
    kwargs = {"activation": activation, "batch": options.get("batch", False), "squared": options.get("squared", False)}
    weights = [torch.tensor(RNG.normal(size=(3,) if kwargs["batch"] else (3, 3))) for _ in range(3)]

    def run():
        def combined(y_pred):
            stats = ops.class_statistics(y_pred, y_true, axis, mask=mask, **kwargs)
            return sum((s * w).sum() for s, w in zip(stats, weights, strict=True)), stats

        y_pred = x.clone().requires_grad_(True)
        total, stats = combined(y_pred)
        wrt = [y_pred] + ([dense] if target == "dense" else [])
        return [s.detach() for s in stats] + list(torch.autograd.grad(total, wrt))

    fused, composite = run(), _composite(monkeypatch, run)
    for ours, theirs in zip(fused, composite, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-13)


def test_fused_kernels_have_exact_second_derivatives(monkeypatch):
    """create_graph=True (GradNorm, gradient penalties) differentiates the
    composite behind each kernel: gradgradcheck in float64."""
    from losses_torch import ops as torch_ops

    monkeypatch.setattr(torch_ops, "FUSED_MIN_SIZE", 0)
    ops = torch_ops.TorchOps()
    labels = torch.tensor(RNG.integers(0, 3, (2, 3, 2)))
    x = torch.tensor(RNG.normal(size=(2, 3, 3, 2)), requires_grad=True)
    mask = torch.tensor(RNG.uniform(size=(2, 1, 3, 2)) > 0.3, dtype=x.dtype)

    def cross_entropy(y):
        return ops.sparse_softmax_cross_entropy(
            y, labels, 1, "mean", class_weights=[1.0, 2.0, 0.5], label_smoothing=0.1
        )

    def statistics(y, activation="softmax", squared=False):
        stats = ops.class_statistics(y, labels, 1, activation=activation, batch=False, mask=mask, squared=squared)
        return stats[0] / (stats[1] + stats[2] + 1.0)

    probabilities = torch.softmax(x, 1).detach().requires_grad_(True)
    assert torch.autograd.gradgradcheck(cross_entropy, (x,))
    assert torch.autograd.gradgradcheck(statistics, (x,))
    assert torch.autograd.gradgradcheck(lambda p: statistics(p, "none", True), (probabilities,))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("dice", {}),
        ("dice", {"ignore_index": 255, "batch": True}),
        ("jaccard", {"squared": True}),
        ("tversky", {"alpha": 0.3, "beta": 0.7}),
        ("generalized_dice", {}),
        ("dice", {"from_logits": False}),
        ("categorical_crossentropy", {}),
        ("categorical_crossentropy", {"class_weights": [1.0, 2.0, 0.5], "label_smoothing": 0.1, "ignore_index": 9}),
    ],
)
def test_integer_labels_never_become_one_hot_in_torch(name, params, monkeypatch):
    """The fused torch paths read integer labels as they are: ``one_hot`` is never called."""
    from losses_torch import ops as torch_ops

    def refuse(*args, **kwargs):
        raise AssertionError("one_hot called on the fused path")

    monkeypatch.setattr(torch_ops, "FUSED_MIN_SIZE", 0)
    monkeypatch.setattr(torch_ops.TorchOps, "one_hot", refuse)
    logits = torch.tensor(RNG.normal(size=(2, 3, 8, 8)), requires_grad=True)
    y_pred = torch.softmax(logits, 1) if params.get("from_logits") is False else logits
    labels = torch.tensor(RNG.integers(0, 3, (2, 8, 8)))
    labels[0, 0] = params.get("ignore_index", 0)
    losses_torch.loss_class(name)(**params)(y_pred, labels).backward()
    assert torch.isfinite(logits.grad).all()


def test_native_overlap_statistics_kernel_is_built():
    """CI has a C compiler: the kernel must compile and load there, so the
    parity matrix and the test below run it (no silent fallback)."""
    from losses_torch import _native

    assert _native.available(), "losses_torch._native could not build its kernel (see the RuntimeWarning)"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("shape", "options"),
    [
        ((3, 4, 5, 7), {}),
        ((2, 3, 70, 90), {"mask": True}),  # positions span blocks of 4096, a partial one last
        ((2, 3, 70, 90), {"squared": True}),
        ((2, 3, 70, 90), {"softmax": True, "mask": True}),
        ((3, 4, 5, 7), {"softmax": True, "squared": True}),
        ((1, 5, 9, 4, 130), {"mask": True, "squared": True}),
        ((4, 3), {"mask": True}),  # no position axis
        ((2, 1, 6, 6), {}),
        ((3, 4, 5, 7), {"dense": True}),
        ((2, 3, 70, 90), {"dense": True, "squared": True}),
        ((2, 3, 70, 90), {"dense": True, "softmax": True}),
        ((1, 5, 9, 4, 130), {"dense": True, "softmax": True, "squared": True}),
        ((4, 3), {"dense": True}),
    ],
    ids=str,
)
def test_native_overlap_statistics_equal_torch_ops(dtype, shape, options, monkeypatch):
    """The C kernels' (I, P, G) and gradient against the PyTorch-op paths of
    :class:`losses_torch._fused.LabelStatistics` and ``DenseStatistics`` (soft
    targets; ``LOSSBRIDGE_NATIVE=0``); with ``softmax`` the kernels' fused
    softmax backward against autograd's."""
    from losses_torch import _fused, _native

    rng = np.random.default_rng(11)
    probs = torch.tensor(rng.dirichlet(np.ones(shape[1]), size=(shape[0], *shape[2:])), dtype=dtype).movedim(-1, 1)
    probs = probs.contiguous()
    labels = torch.tensor(rng.integers(0, shape[1], (shape[0], *shape[2:])))
    dense = options.get("dense", False)
    if dense:  # soft targets: the kernels may not assume 0/1
        labels = torch.tensor(rng.dirichlet(np.ones(shape[1]), size=(shape[0], *shape[2:])), dtype=dtype).movedim(-1, 1)
    valid = torch.tensor(rng.uniform(size=labels.shape) > 0.3, dtype=dtype) if options.get("mask") else None
    squared = options.get("squared", False)
    weights = [torch.tensor(rng.normal(size=shape[:2]), dtype=dtype) for _ in range(2)]
    assert _native.prepare(probs, labels, 1, valid) is not None

    softmax = options.get("softmax", False)
    if softmax:
        probs = torch.log(probs) * 3.0  # logits

    def run():
        p = probs.clone().requires_grad_(True)
        if softmax and _native.enabled():
            stats = _fused.SoftmaxStatistics.apply(p, labels, 1, valid, squared, None)
        elif dense:
            stats = _fused.DenseStatistics.apply(torch.softmax(p, 1) if softmax else p, labels, 1, squared)
        else:
            stats = _fused.LabelStatistics.apply(torch.softmax(p, 1) if softmax else p, labels, 1, valid, squared, None)
        (grad,) = torch.autograd.grad((stats[0] * weights[0]).sum() + (stats[1] * weights[1]).sum(), p)
        return [s.detach() for s in stats] + [grad]

    native = run()
    monkeypatch.setenv("LOSSBRIDGE_NATIVE", "0")
    reference = run()
    tolerance = {"rtol": 2e-6, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for ours, theirs in zip(native, reference, strict=True):
        assert ours.dtype == dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **tolerance)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [1.0, 50.0, 1000.0])
def test_native_softmax_equals_torch_softmax(dtype, scale):
    """The forward kernel writes the softmax of the logits itself (its own
    vectorised exp): within a few ulps of ``torch.softmax``, saturated and
    -inf logits included, and the statistics of those probabilities."""
    from losses_torch import _native

    rng = np.random.default_rng(7)
    logits = torch.tensor(rng.normal(size=(2, 5, 70, 90)) * scale, dtype=dtype)
    logits[0, 1, :3] = -math.inf
    labels = torch.tensor(rng.integers(0, 5, (2, 70, 90)))
    moved, flat, valid = _native.prepare(logits, labels, 1, None)
    probs = torch.empty_like(moved)
    statistics = _native.overlap_statistics(probs, flat, valid, False, logits=moved)
    expected = torch.softmax(logits.double(), 1)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-14
    np.testing.assert_allclose(probs.double().numpy(), expected.numpy(), rtol=scale * tolerance, atol=tolerance)
    assert torch.all(probs[0, 1, :3] == 0)
    one_hot = torch.nn.functional.one_hot(labels, 5).movedim(-1, 1)
    np.testing.assert_allclose(
        statistics[0].double().numpy(), (expected * one_hot).sum((2, 3)).numpy(), rtol=100 * tolerance
    )


@pytest.mark.parametrize("kind", ["labels", "dense", "labels-softmax", "dense-softmax"])
def test_native_overlap_statistics_do_not_depend_on_the_thread_count(kind):
    """Blocks run on PyTorch's OpenMP threads above a size threshold; each
    block's sums are added in block order afterwards, so one thread and two
    give the same bits, forward and backward."""
    from losses_torch import _native

    rng = np.random.default_rng(5)
    shape = (2, 3, 90, 400)  # 9 blocks of positions per sample, above the parallel threshold
    probs = torch.tensor(rng.dirichlet(np.ones(3), size=(2, 90, 400)), dtype=torch.float32).movedim(-1, 1)
    probs = probs.contiguous()
    if kind.startswith("dense"):
        targets = torch.tensor(rng.uniform(size=shape), dtype=torch.float32)
    else:
        targets = torch.tensor(rng.integers(0, 3, (2, 90, 400)))
    moved, flat, valid = _native.prepare(probs, targets, 1, None)
    grads = [torch.tensor(rng.normal(size=(2, 3)), dtype=torch.float32) for _ in range(2)]
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            statistics = _native.overlap_statistics(moved, flat, valid, False)
            grad = _native.overlap_statistics_backward(
                moved, flat, valid, False, *grads, 1, softmax=kind.endswith("softmax")
            )
            results.append([*statistics, grad])
    finally:
        torch.set_num_threads(threads)
    for one, two in zip(*results, strict=True):
        assert torch.equal(one, two)
    dense = targets if kind.startswith("dense") else torch.nn.functional.one_hot(targets, 3).movedim(-1, 1)
    expected = (probs.double() * dense).sum((2, 3))
    np.testing.assert_allclose(results[0][0].double().numpy(), expected.numpy(), rtol=1e-5)


@pytest.mark.skipif(sys.platform != "linux", reason="PyTorch runs on GNU OpenMP in its Linux builds")
def test_native_kernels_share_torchs_openmp_runtime():
    """The kernels link the libgomp PyTorch loaded: one OpenMP runtime (one
    thread pool) in the process, not a second one competing for the cores."""
    from losses_torch import _native

    assert _native.available()
    with open("/proc/self/maps") as maps:
        runtimes = {line.split()[-1] for line in maps if "/libgomp" in line}
    assert len(runtimes) == 1, runtimes
    assert _native._torch_openmp() is not None


def test_native_overlap_statistics_read_channels_first_memory_only():
    """Channels-last memory, a class axis that is not contiguous per position,
    half precision, dense targets with a mask: the PyTorch-op path (prepare
    says no).  Dense targets in any layout are copied channels-first."""
    from losses_torch import _native

    probs = torch.rand(2, 3, 4, 5)
    labels = torch.zeros(2, 4, 5, dtype=torch.long)
    assert _native.prepare(probs, labels, 1, None) is not None
    assert _native.prepare(probs.to(memory_format=torch.channels_last), labels, 1, None) is None
    assert _native.prepare(probs.movedim(1, 3).contiguous(), labels, 3, None) is None
    assert _native.prepare(probs.half(), labels, 1, None) is None
    targets = torch.rand(2, 3, 4, 5)
    assert _native.prepare(probs, targets, 1, torch.ones(2, 4, 5)) is None
    _, dense, valid = _native.prepare(probs, targets.to(memory_format=torch.channels_last), 1, None)
    assert valid is None and dense.is_contiguous() and torch.equal(dense, targets)
    _, dense, _ = _native.prepare(probs, targets.double(), 1, None)
    assert dense.dtype == probs.dtype
