"""The training problem both distributed scripts and the single-process reference share.

A 1x1 convolution from 4 input channels to 3 classes on 6x6 maps, a global batch of 8 in
float64, one SGD step.  The cases are the losses whose value depends on the whole batch, each
with ``sync`` on and off.  Nothing here imports a framework.
"""

from __future__ import annotations

import numpy as np

BATCH, FEATURES, CLASSES, SIDE = 8, 4, 3, 6
LEARNING_RATE = 0.5
REPLICAS = 2
IGNORED = 255

# (case name, loss class, constructor arguments); sync is added on and off.  Every case ignores
# the pixels labelled IGNORED, so the valid-pixel counts differ between the two halves.
CASES = [
    ("dice_batch", "DiceLoss", {"batch": True, "ignore_index": IGNORED}),
    ("generalized_dice_batch", "GeneralizedDiceLoss", {"batch": True, "ignore_index": IGNORED}),
    ("tversky_batch_ignore", "TverskyLoss", {"batch": True, "ignore_index": IGNORED}),
    ("jaccard_batch", "JaccardLoss", {"batch": True, "ignore_index": IGNORED}),
    ("focal_tversky_batch", "FocalTverskyLoss", {"batch": True, "ignore_index": IGNORED}),
    ("log_cosh_dice_batch", "LogCoshDiceLoss", {"batch": True, "ignore_index": IGNORED}),
    ("dice_crossentropy_batch", "DiceCrossentropyLoss", {"batch": True, "ignore_index": IGNORED}),
    ("dice_focal_batch", "DiceFocalLoss", {"batch": True, "ignore_index": IGNORED}),
    ("generalized_dice_focal_batch", "GeneralizedDiceFocalLoss", {"batch": True, "ignore_index": IGNORED}),
    ("dice_softmax_focal_batch", "DiceSoftmaxFocalLoss", {"batch": True, "ignore_index": IGNORED}),
    ("mcc_batch", "MccLoss", {"batch": True, "ignore_index": IGNORED}),
    ("nll_ignore", "NegativeLogLikelihoodLoss", {"ignore_index": IGNORED}),
    ("focal_ignore", "FocalLoss", {"ignore_index": IGNORED}),
    ("generalized_crossentropy_ignore", "GeneralizedCrossentropyLoss", {"ignore_index": IGNORED}),
    ("poly1_crossentropy_ignore", "Poly1CrossentropyLoss", {"ignore_index": IGNORED}),
    ("asymmetric_focal_ignore", "AsymmetricFocalLoss", {"ignore_index": IGNORED}),
    ("sensitivity_specificity_batch", "SensitivitySpecificityLoss", {"batch": True, "ignore_index": IGNORED}),
    ("asymmetric_focal_tversky_batch", "AsymmetricFocalTverskyLoss", {"batch": True, "ignore_index": IGNORED}),
    ("asymmetric_unified_focal_batch", "AsymmetricUnifiedFocalLoss", {"batch": True, "ignore_index": IGNORED}),
    (
        "crossentropy_ignore_weights",
        "CategoricalCrossentropyLoss",
        {"ignore_index": IGNORED, "class_weights": [0.5, 2.0, 1.0]},
    ),
]


def data() -> tuple[np.ndarray, np.ndarray]:
    """Features ``(N, F, H, W)`` and labels ``(N, H, W)``; the second half of the batch has
    many more ignored pixels than the first, so a per-replica mean over valid pixels differs
    from the global one."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(BATCH, FEATURES, SIDE, SIDE))
    labels = rng.integers(0, CLASSES, size=(BATCH, SIDE, SIDE))
    labels[: BATCH // 2][rng.uniform(size=(BATCH // 2, SIDE, SIDE)) < 0.1] = IGNORED
    labels[BATCH // 2 :][rng.uniform(size=(BATCH // 2, SIDE, SIDE)) < 0.6] = IGNORED
    labels[: BATCH // 2][labels[: BATCH // 2] == 2] = 1  # class 2 lives in the second half only
    return features, labels


def shard(replica: int) -> np.ndarray:
    """The sample indices replica ``replica`` of ``REPLICAS`` trains on: the first replica
    the first half of the batch (DDP's sampler is told to keep this order)."""
    size = BATCH // REPLICAS
    return np.arange(replica * size, (replica + 1) * size)


def initial_weights() -> tuple[np.ndarray, np.ndarray]:
    """Kernel ``(CLASSES, FEATURES)`` and bias ``(CLASSES,)`` of the 1x1 convolution."""
    rng = np.random.default_rng(11)
    return rng.normal(scale=0.5, size=(CLASSES, FEATURES)), rng.normal(scale=0.1, size=CLASSES)
