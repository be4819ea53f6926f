"""segmentation-models-pytorch 0.6.0's losses (``segmentation_models_pytorch.losses``), as compat definitions.

See :mod:`spec.compat._core` for what a definition holds.
"""

from __future__ import annotations
