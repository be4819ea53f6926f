"""Peer libraries that cannot be imported the ordinary way beside torch 2.13.

segmentation-models-pytorch (smp) imports timm and torchvision in its package
``__init__``; a registry torchvision fails to import beside torch 2.13.0, so CI
installs smp with ``--no-deps`` (see README) and the tests load only its
``losses`` subpackage, which needs nothing but torch and numpy.  A missing smp
is an ImportError, never a skip.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

_SMP_LOSSES = "smp_losses"


def smp_losses() -> ModuleType:
    """``segmentation_models_pytorch.losses`` loaded as a top-level package,
    without running ``segmentation_models_pytorch/__init__.py``."""
    if _SMP_LOSSES in sys.modules:
        return sys.modules[_SMP_LOSSES]
    package = importlib.util.find_spec("segmentation_models_pytorch")
    if package is None or not package.submodule_search_locations:
        raise ImportError(
            "segmentation-models-pytorch is not installed: pip install --no-deps segmentation-models-pytorch==0.6.0"
        )
    losses = Path(next(iter(package.submodule_search_locations))) / "losses"
    spec = importlib.util.spec_from_file_location(
        _SMP_LOSSES, losses / "__init__.py", submodule_search_locations=[str(losses)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[_SMP_LOSSES] = module
    spec.loader.exec_module(module)
    return module
