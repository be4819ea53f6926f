"""MONAI 1.6.1's losses (``monai.losses``), as compat definitions (see :mod:`spec.compat._core`)."""

from __future__ import annotations
