"""Keras 3.15.1 built-in losses (``keras.losses``), as compat definitions (see :mod:`spec.compat._core`)."""

from __future__ import annotations
