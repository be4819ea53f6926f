"""Keras 3's built-in losses with the peer's API, computed by lossbridge in PyTorch.

Generated from ``spec.compat.keras``; see ``docs/compat.md``.
"""

from losses_torch.compat._shell import export

__all__ = export("keras", globals())
