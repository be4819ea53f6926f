"""Distance maps for the distance losses (``BoundaryLoss``, ``HausdorffDtLoss``,
``LogHausdorffDtLoss``) from TensorFlow tensors.

A thin wrapper over :func:`spec.distance.distance_maps` (SciPy's exact
Euclidean distance transform on the CPU): the mask goes to NumPy and the maps
come back as a tensor, without gradient.  The conventions (signed /
unsigned, 0 for empty and full masks) are documented there.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from spec import distance as _distance


def distance_maps(
    mask: Any,
    *,
    kind: str = "unsigned",
    class_axis: int = -1,
    num_classes: int | None = None,
    threshold: float = 0.5,
    dtype: Any = None,
) -> tf.Tensor:
    """Distance map of every sample and class of ``mask``, without gradient.

    Eagerly the mask is read with ``.numpy()``.  Inside a ``tf.function``
    (such as Keras' compiled train step) a graph tensor has no value, so the
    transform is wrapped in ``tf.numpy_function``: it then runs as a host
    Python call (holding the GIL), on the CPU, and cannot be exported in a
    SavedModel or run on a TPU -- prefer computing the target maps in the
    ``tf.data`` pipeline or beforehand.

    Args:
        mask: ``(N, *spatial, C)`` masks, soft targets or probabilities (class
            axis ``class_axis``), or with ``num_classes`` integer labels
            ``(N, *spatial)``.  For ``HausdorffDtLoss``'s ``pred_distance``
            pass the class probabilities (``tf.nn.softmax(logits)``, or
            ``tf.sigmoid``); for independent sigmoid channels the logits with
            ``threshold=0.0`` give the same masks.
        kind: ``"unsigned"`` (Hausdorff losses) or ``"signed"`` (boundary loss).
        class_axis: class axis of ``mask`` and of the result (Keras' -1 by default).
        num_classes: ``mask`` holds integer labels, one-hot encoded first.
        threshold: foreground is ``mask > threshold``.
        dtype: of the result; default the mask's floating dtype, else
            ``keras.config.floatx()``.

    Returns:
        The maps with the mask's shape (class axis inserted for labels).
    """
    mask = tf.convert_to_tensor(mask)
    dtype = tf.as_dtype(dtype or (mask.dtype if mask.dtype.is_floating else keras.config.floatx()))
    if num_classes is None and mask.dtype.is_floating:
        # threshold in TensorFlow: NumPy has no bfloat16
        mask, threshold = tf.greater(mask, tf.cast(threshold, mask.dtype)), 0.5

    def compute(array: np.ndarray) -> np.ndarray:
        maps = _distance.distance_maps(
            array, kind=kind, class_axis=class_axis, num_classes=num_classes, threshold=threshold
        )
        return maps.astype(dtype.as_numpy_dtype)

    if tf.executing_eagerly():
        return tf.constant(compute(mask.numpy()))
    maps = tf.numpy_function(compute, [mask], dtype, stateful=False)
    shape = mask.shape
    if num_classes is not None:
        # the class axis inserted where class_axis points in the result
        dims = shape.as_list() if shape.rank is not None else None
        if dims is not None:
            axis = class_axis % (len(dims) + 1)
            dims.insert(axis, num_classes)
        shape = tf.TensorShape(dims)
    maps.set_shape(shape)
    return tf.stop_gradient(maps)
