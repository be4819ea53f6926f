"""Every built-in loss formula, written once.  Importing this package
registers them: each module ``spec/losses/_<family>.py`` is imported, and
its registered formulas are re-exported here by their spec names."""

import importlib
import pkgutil

from spec.losses._overlap import overlap_statistics as overlap_statistics
from spec.registry import specs as _specs

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

globals().update({_spec.name: _spec.formula for _spec in _specs()})
__all__ = sorted([_spec.name for _spec in _specs()] + ["overlap_statistics"])
