"""MONAI's losses with the peer's API, computed by lossbridge in TensorFlow.

Generated from ``spec.compat.monai``; see ``docs/compat.md``.
"""

from losses_tf.compat._shell import export

__all__ = export("monai", globals())
