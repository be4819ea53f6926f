"""Candidates of one benchmark case in each framework: ours, the composite path,
peers and the read-the-inputs floor, bound to the same tensors.

One step is: clear the gradient, evaluate the loss on fixed inputs and
backpropagate to the prediction.  PyTorch: ``x.grad = None;
loss(x, ...).backward()``.  TensorFlow: a ``GradientTape`` watching the
prediction, the tape inside the ``tf.function`` for the graph (``function``)
and XLA (``jit``, ``jit_compile=True``) modes.  The floor is ``(x * w).sum()``
forward and backward with ``w`` a float tensor of the prediction's shape: it
reads two prediction-sized tensors and writes the gradient, the least any loss
of that prediction can do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np

from benchmarks import memory
from benchmarks.inputs import CaseInputs
from benchmarks.peers import CallForm, PeerConfig, instantiate
from benchmarks.timing import Candidate
from spec.registry import LossSpec

COMPOSITE_ENV = "LOSSBRIDGE_COMPOSITE_OPS"


@contextmanager
def composite_ops() -> Iterator[None]:
    """Force lossbridge's composite (non-fused) ops while inside (``spec.ops.composite_forced``)."""
    saved = os.environ.get(COMPOSITE_ENV)
    os.environ[COMPOSITE_ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ[COMPOSITE_ENV]
        else:
            os.environ[COMPOSITE_ENV] = saved


def _floor_weights(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(1).random(shape, dtype=np.float32)


def _scalar(value: Any, name: str) -> None:
    if tuple(value.shape) != ():
        raise ValueError(f"{name} returned shape {tuple(value.shape)}, expected a scalar loss")


class TorchCase:
    """Torch tensors of one case (channels-first) and its candidates (``spec`` None: the floor only)."""

    def __init__(self, spec: LossSpec | None, inputs: CaseInputs) -> None:
        import torch

        self.spec = spec
        self.x = torch.from_numpy(inputs.y_pred.copy()).requires_grad_(True)
        self.y_true = torch.from_numpy(inputs.y_true)
        self.extras = {k: torch.from_numpy(v) for k, v in inputs.extras.items()}

    def _clear(self) -> None:
        self.x.grad = None

    def candidate(
        self,
        name: str,
        mode: str,
        kind: str,
        loss_of: Callable[[], Any],
        context: Callable[[], Any] = nullcontext,
        note: str = "",
    ) -> Candidate:
        def step() -> None:
            self.x.grad = None
            loss_of().backward()

        def value_and_grad() -> tuple[float, np.ndarray]:
            with context():
                self.x.grad = None
                value = loss_of()
                _scalar(value, name)
                value.backward()
                grad = self.x.grad.detach().numpy().copy()
                self.x.grad = None
            return float(value.detach()), grad

        def peak() -> float | None:
            with context():
                return memory.torch_peak_mib(lambda: loss_of().backward(), self._clear)

        return Candidate(name, "torch", mode, kind, step, value_and_grad, peak, context, note)

    def ours(self, params: dict[str, Any], mode: str = "eager", kind: str = "ours") -> Candidate:
        import torch

        import losses_torch

        module = losses_torch.loss_class(self.spec)(**params)
        if mode == "compile":
            module = torch.compile(module, fullgraph=True, dynamic=False)
        context = composite_ops if kind == "composite" else nullcontext
        name = "ours (composite ops)" if kind == "composite" else "ours"
        return self.candidate(name, mode, kind, lambda: module(self.x, self.y_true, **self.extras), context)

    def peer(self, config: PeerConfig, form: CallForm) -> Candidate:
        import torch

        loss = instantiate(config, self.x.ndim)
        tensors = form.tensors(torch.from_numpy)
        transform = _torch_transform(config.pred_transform)

        def loss_of() -> Any:
            arguments = [
                transform(self.x) if a == form.prediction else tensors[a] for a in config.call if a != "sample_weight"
            ]
            return loss(*arguments)

        return self.candidate(config.label, "eager", "peer", loss_of, note=f"target: {form.target}")

    def floor(self) -> Candidate:
        import torch

        weights = torch.from_numpy(_floor_weights(tuple(self.x.shape)))
        return self.candidate("floor (x*w).sum()", "eager", "floor", lambda: (self.x * weights).sum())


def _torch_transform(name: str) -> Callable[[Any], Any]:
    if name == "ctc_log_probs":
        # torch's CTC takes (T, N, C) log-probabilities; ours takes (N, C, T) logits
        return lambda x: x.log_softmax(1).permute(2, 0, 1)
    if name == "softmax":
        return lambda x: x.softmax(1)
    return lambda x: x


def _tf_transform(name: str) -> Callable[[Any], Any]:
    if name == "softmax":
        import tensorflow as tf

        return lambda x: tf.nn.softmax(x, axis=-1)
    return lambda x: x


class TfCase:
    """TensorFlow tensors of one case (Keras layout) and its candidates (``spec`` None: the floor only)."""

    MODES = ("eager", "function", "jit")

    def __init__(self, spec: LossSpec | None, inputs: CaseInputs) -> None:
        import tensorflow as tf

        self.spec = spec
        self.x = tf.constant(inputs.y_pred)
        self.y_true = tf.constant(inputs.y_true)
        self.extras = {k: tf.constant(v) for k, v in inputs.extras.items()}

    def candidate(
        self,
        name: str,
        mode: str,
        kind: str,
        loss_of: Callable[[Any], Any],
        context: Callable[[], Any] = nullcontext,
        note: str = "",
    ) -> Candidate:
        import tensorflow as tf

        def gradient(x: Any) -> tuple[Any, Any]:
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = loss_of(x)
            return value, tape.gradient(value, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)

        run = {"eager": gradient, "function": tf.function(gradient), "jit": tf.function(gradient, jit_compile=True)}[
            mode
        ]

        def value_and_grad() -> tuple[float, np.ndarray]:
            with context():
                value, grad = run(self.x)
            _scalar(value, name)
            return float(value), grad.numpy()

        def peak() -> float | None:
            with context():
                return memory.tf_peak_mib(lambda: run(self.x))

        return Candidate(name, "tf", mode, kind, lambda: run(self.x), value_and_grad, peak, context, note)

    def ours(self, params: dict[str, Any], mode: str = "eager", kind: str = "ours") -> Candidate:
        import losses_tf

        loss = losses_tf.loss_class(self.spec)(**params)
        context = composite_ops if kind == "composite" else nullcontext
        name = "ours (composite ops)" if kind == "composite" else "ours"
        return self.candidate(name, mode, kind, lambda x: loss(self.y_true, x, **self.extras), context)

    def peer(self, config: PeerConfig, form: CallForm, mode: str = "eager") -> Candidate:
        import tensorflow as tf

        loss = instantiate(config, len(self.x.shape))
        tensors = form.tensors(tf.constant)
        transform = _tf_transform(config.pred_transform)

        def loss_of(x: Any) -> Any:
            arguments = [
                transform(x) if a == form.prediction else tensors[a] for a in config.call if a != "sample_weight"
            ]
            return loss(*arguments)

        return self.candidate(config.label, mode, "peer", loss_of, note=f"target: {form.target}")

    def floor(self, mode: str) -> Candidate:
        import tensorflow as tf

        weights = tf.constant(_floor_weights(tuple(self.x.shape)))
        return self.candidate("floor (x*w).sum()", mode, "floor", lambda x: tf.reduce_sum(x * weights))
