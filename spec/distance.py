"""Distance maps of segmentation masks, the extra input of the distance losses.

The maps are data, never differentiated: they are computed once on the host
with SciPy's exact Euclidean distance transform and handed to
``boundary``, ``hausdorff_dt`` and ``log_hausdorff_dt`` as extra inputs, so
PyTorch and TensorFlow read the very same numbers.  The framework helpers
``losses_torch.distance.distance_maps`` and ``losses_tf.distance.distance_maps``
convert tensors to NumPy, call :func:`distance_maps` and convert back.

Conventions, per sample and class (one mask ``M``, its foreground pixels
``M > threshold``; distances between pixel centres, unit spacing):

* :math:`D_{in}(x)` -- for a foreground pixel, the distance to the nearest
  background pixel (``scipy.ndimage.distance_transform_edt(M)``);
* :math:`D_{out}(x)` -- for a background pixel, the distance to the nearest
  foreground pixel (``distance_transform_edt(~M)``);
* ``"unsigned"`` (Hausdorff DT loss): :math:`D_{in}` inside, :math:`D_{out}`
  outside -- every pixel's distance to the other region, at least 1;
* ``"signed"`` (boundary loss): :math:`1 - D_{in}` inside, :math:`D_{out}`
  outside -- the object's outermost pixel layer is 0, deeper pixels are
  negative, the background is positive (Kervadec et al.'s reference code and
  MONAI 1.6.1 ``BoundaryLoss``);
* an empty mask (no foreground) or a full mask (no background) has no
  boundary, so its map is **0 everywhere**, in both kinds (MONAI leaves its
  field 0 in both cases too; SciPy alone would measure a full mask's
  distances to a phantom background outside the array).

SciPy is imported inside :func:`distance_maps`, so ``import spec`` stays light.
The transform runs on the CPU, one ``(sample, class)`` slice at a time; on
large 3-D volumes it is the expensive part of these losses, so compute the
target maps once in the data pipeline (they depend on the targets only) and
only the prediction maps of ``hausdorff_dt`` in the training step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

KINDS = ("unsigned", "signed")


def distance_maps(
    mask: Any,
    *,
    kind: str = "unsigned",
    class_axis: int = 1,
    num_classes: int | None = None,
    threshold: float = 0.5,
) -> np.ndarray:
    r"""Distance map of every sample and class of ``mask``.

    .. math::

        d(x) = \begin{cases} D_{in}(x) & M(x) > t \\ D_{out}(x) & \text{else}\end{cases}
        \quad(\text{unsigned}),\qquad
        \phi(x) = \begin{cases} 1 - D_{in}(x) & M(x) > t \\ D_{out}(x) & \text{else}\end{cases}
        \quad(\text{signed})

    and 0 everywhere for a mask without foreground or without background.

    Args:
        mask: ``(N, C, *spatial)`` masks or probabilities (class axis
            ``class_axis``), or, with ``num_classes``, integer labels
            ``(N, *spatial)`` without a class axis.  At least one spatial axis.
        kind: ``"unsigned"`` (Hausdorff DT loss) or ``"signed"`` (boundary
            loss).
        class_axis: axis of the classes in ``mask`` and in the result (1
            channels-first, -1 channels-last); not the batch axis 0.
        num_classes: ``mask`` holds integer labels, one-hot encoded into this
            many classes first; a label outside ``[0, num_classes)`` (an
            ignored pixel) is background in every class.
        threshold: a pixel is foreground where ``mask > threshold`` (MONAI's
            0.5; a soft target or a probability is thresholded the same way).

    Returns:
        float64 maps with the shape of ``mask`` (with the class axis inserted
        at ``class_axis`` for labels).  Each ``(sample, class)`` slice is
        transformed on its own, over the spatial axes only.
    """
    from scipy.ndimage import distance_transform_edt

    if kind not in KINDS:
        raise ValueError(f"distance_maps: kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
    mask = np.asarray(mask)
    ndim = mask.ndim if num_classes is None else mask.ndim + 1
    if ndim < 3:
        expected = "(N, C, *spatial) masks" if num_classes is None else "(N, *spatial) labels"
        raise ValueError(f"distance_maps: expected {expected} with at least one spatial axis, got shape {mask.shape}")
    axis = _class_axis(class_axis, ndim)
    if num_classes is not None:
        if not np.issubdtype(mask.dtype, np.integer):
            raise TypeError(f"distance_maps: num_classes={num_classes} needs integer labels, got dtype {mask.dtype}")
        if num_classes < 1:
            raise ValueError(f"distance_maps: num_classes must be >= 1, got {num_classes}")
        foreground = np.moveaxis(mask[..., None] == np.arange(num_classes), -1, axis)
    else:
        foreground = mask > threshold
    # channels-first view: every slice [n, c] is one spatial mask
    stacked = np.moveaxis(foreground, axis, 1)
    result = np.zeros(stacked.shape, dtype=np.float64)
    for n in range(stacked.shape[0]):
        for c in range(stacked.shape[1]):
            inside = stacked[n, c]
            if not inside.any() or inside.all():
                continue  # no boundary: the map stays 0
            to_background = distance_transform_edt(inside)
            to_foreground = distance_transform_edt(~inside)
            inner = 1.0 - to_background if kind == "signed" else to_background
            result[n, c] = np.where(inside, inner, to_foreground)
    return np.moveaxis(result, 1, axis)


def _class_axis(class_axis: int, ndim: int) -> int:
    if not -ndim <= class_axis < ndim:
        raise ValueError(f"distance_maps: class_axis={class_axis} is out of range for {ndim} dimensions")
    axis = class_axis % ndim
    if axis == 0:
        raise ValueError(f"distance_maps: class_axis={class_axis} is the batch axis; expected 1 or -1")
    return axis
