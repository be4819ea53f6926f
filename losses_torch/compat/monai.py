"""MONAI's losses with the peer's API, computed by lossbridge in PyTorch.

Generated from ``spec.compat.monai``; see ``docs/compat.md``.
"""

from losses_torch.compat._shell import export

__all__ = export("monai", globals())
