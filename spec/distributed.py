"""Losses over a batch split across replicas (``torch.distributed``, ``tf.distribute``).

Data-parallel training gives each replica a shard of the global batch.  A loss
that is a plain mean of per-sample terms needs nothing more: the frameworks
average (DDP) or sum (Keras, after scaling each replica's loss by one over the
number of replicas) the replicas' gradients, which is the gradient of the
global mean when the shards have equal sizes.  A loss whose value depends on
statistics of the whole batch does not decompose that way: Dice with
``batch=True`` is one ratio of sums over every pixel of the batch, and a mean
over the valid pixels (``ignore_index``, class weights) divides by a count of
the whole batch.  Computed per shard, such a loss silently changes meaning.

With ``sync=True`` those sums are added up over the replicas
(:meth:`spec.ops.Ops.all_reduce_sum`) before the ratio is formed, so every
replica computes the loss of the global batch.  The all-reduce is
differentiable: its backward all-reduces the incoming gradient.  When every
replica backpropagates the same global loss ``L``, replica ``r``'s inputs get
``W dL/dx_r`` (``W`` replicas), and the frameworks' own rules finish the job:
DDP's average over replicas gives ``dL/dtheta``, and so does Keras' sum over
replicas of the gradients of ``L / W``.  The updates then equal a single
process's on the concatenated batch.

``sync=True`` costs a collective call per statistic and step; in one process
(or with one replica) it changes nothing: ``all_reduce_sum`` is the identity.
"""

from __future__ import annotations

from typing import Any

from spec.ops import Ops
from spec.params import Param

Tensor = Any

SYNC = Param(
    "sync",
    "bool",
    False,
    "sum the batch statistics over the replicas of a distributed run (torch.distributed, "
    "tf.distribute) before the ratio: the loss of the global batch on every replica",
)


def replica_sums(ops: Ops, *tensors: Tensor) -> tuple[Tensor, ...]:
    """Each tensor summed over the replicas (itself in one process)."""
    return ops.all_reduce_sums(tensors)


def element_count(ops: Ops, elements: Tensor) -> Tensor:
    """The number of entries of ``elements`` as a tensor of its dtype (the
    local count a synchronised ``"mean"`` adds up over the replicas)."""
    shape = ops.shape(elements)
    if all(isinstance(d, int) and d >= 0 for d in shape):
        count = 1
        for d in shape:
            count *= d
        return ops.constant(float(count), elements)
    # a size unknown while tracing (a TensorFlow graph's batch axis, an ONNX
    # graph's symbolic batch): count the entries
    present = ops.cast(ops.equal(elements, elements), elements) + ops.cast(ops.not_equal(elements, elements), elements)
    return ops.sum(present)
