"""segmentation-models-pytorch's losses with the peer's API, computed by lossbridge in TensorFlow.

Generated from ``spec.compat.smp``; see ``docs/compat.md``.
"""

from losses_tf.compat._shell import export

__all__ = export("smp", globals())
