"""torch.nn's losses (and torchvision's sigmoid_focal_loss) with the peer's API, computed by lossbridge in TensorFlow.

Generated from ``spec.compat.torch``; see ``docs/compat.md``.
"""

from losses_tf.compat._shell import export

__all__ = export("torch", globals())
