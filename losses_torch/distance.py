"""Distance maps for the distance losses (``BoundaryLoss``, ``HausdorffDtLoss``,
``LogHausdorffDtLoss``) from torch tensors.

A thin wrapper over :func:`spec.distance.distance_maps` (SciPy's exact
Euclidean distance transform on the CPU): the mask goes to NumPy, the maps
come back as a tensor on the mask's device, outside autograd.  The
conventions (signed / unsigned, 0 for empty and full masks) are documented
there.
"""

from __future__ import annotations

import torch

from spec import distance as _distance


def distance_maps(
    mask: torch.Tensor,
    *,
    kind: str = "unsigned",
    class_axis: int = 1,
    num_classes: int | None = None,
    threshold: float = 0.5,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Distance map of every sample and class of ``mask``, without gradient.

    Args:
        mask: ``(N, C, *spatial)`` masks, soft targets or probabilities (class
            axis ``class_axis``), or with ``num_classes`` integer labels
            ``(N, *spatial)``.  For ``HausdorffDtLoss``'s ``pred_distance``
            pass the class probabilities (``torch.softmax(logits, 1)``, or
            ``torch.sigmoid``); for independent sigmoid channels the logits
            with ``threshold=0.0`` give the same masks.
        kind: ``"unsigned"`` (Hausdorff losses) or ``"signed"`` (boundary loss).
        class_axis: class axis of ``mask`` and of the result (torch's 1 by default).
        num_classes: ``mask`` holds integer labels, one-hot encoded first.
        threshold: foreground is ``mask > threshold``.
        dtype: of the result; default the mask's floating dtype, else
            ``torch.get_default_dtype()``.

    Returns:
        The maps with the mask's shape (class axis inserted for labels), on
        the mask's device.  The transform runs on the host and is not
        traceable: under ``torch.compile`` it is a graph break, so compute
        the maps outside the compiled step (target maps in the data loader).
    """
    if dtype is None:
        dtype = mask.dtype if mask.is_floating_point() else torch.get_default_dtype()
    with torch.no_grad():
        if num_classes is None and mask.is_floating_point():
            # threshold in torch: NumPy has no bfloat16
            mask, threshold = mask > threshold, 0.5
        array = mask.detach().cpu().numpy()
    maps = _distance.distance_maps(
        array, kind=kind, class_axis=class_axis, num_classes=num_classes, threshold=threshold
    )
    return torch.as_tensor(maps, dtype=dtype, device=mask.device)
