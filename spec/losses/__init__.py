"""Every built-in loss formula, written once.  Importing this package
registers them."""

from spec.losses._classification import binary_crossentropy, categorical_crossentropy
from spec.losses._overlap import dice, generalized_dice, jaccard, overlap_statistics, tversky
from spec.losses._regression import huber, mean_absolute_error, mean_squared_error

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "dice",
    "generalized_dice",
    "huber",
    "jaccard",
    "mean_absolute_error",
    "mean_squared_error",
    "overlap_statistics",
    "tversky",
]
