"""Peer libraries that cannot be imported the ordinary way beside torch 2.13.

segmentation-models-pytorch (smp) imports timm and torchvision in its package
``__init__``; a registry torchvision fails to import beside torch 2.13.0, so CI
installs smp with ``--no-deps`` (see README) and the tests load only its
``losses`` subpackage, which needs nothing but torch and numpy.  A missing smp
is an ImportError, never a skip.

torchvision's loss functions are pure Python over torch, but the package is
not importable here: the registry wheel of torchvision 0.28.0 (the release
built against torch 2.13.0) ships a CUDA ``_C.so`` that needs
``libc10_cuda.so``, which the CPU build of torch 2.13.0 lacks, so
``import torchvision`` stops in ``torchvision/_meta_registrations.py`` with
``RuntimeError: operator torchvision::nms does not exist``.  Installed into
site-packages it does worse: pytorch_lightning and torchmetrics see its
metadata, import it, and ``import pytorch_lightning`` fails the same way.  So
CI installs it with ``--no-deps`` into ``build/peers`` (see README), outside
``sys.path``, and ``torchvision_losses()`` loads only the five files of its
loss functions.  A missing or different torchvision is an ImportError, never
a skip.
"""

import importlib.machinery
import importlib.metadata
import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

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


TORCHVISION_VERSION = "0.28.0"
# where README and .ci/run install it: the repository's build/ (ignored by git and ruff)
TORCHVISION_DIR = Path(__file__).resolve().parents[1] / "build" / "peers"
_TORCHVISION_INSTALL = f'pip install --no-deps --upgrade --target build/peers "torchvision=={TORCHVISION_VERSION}"'
# the private package the files are registered under: ``torchvision`` itself is never imported
_TV = "_torchvision_losses"
# in dependency order: each file's relative imports are loaded before it
_TV_FILES = ("_utils", "diou_loss", "giou_loss", "ciou_loss", "focal_loss")
_torchvision = None


def torchvision_losses() -> SimpleNamespace:
    """torchvision 0.28.0's ``generalized_box_iou_loss``, ``distance_box_iou_loss``,
    ``complete_box_iou_loss`` and ``sigmoid_focal_loss``: the code of
    ``torchvision/ops/{_utils,diou_loss,giou_loss,ciou_loss,focal_loss}.py`` run
    unchanged, without importing ``torchvision`` (see the module docstring).

    The distribution is looked up by its metadata in ``build/peers``, then on
    ``sys.path``; its files are loaded as ``_torchvision_losses.ops.<file>``,
    and the one thing their relative imports need from elsewhere in
    torchvision, ``..utils._log_api_usage_once`` (usage logging), is a no-op
    stand-in ``_torchvision_losses.utils``.
    """
    global _torchvision
    if _torchvision is not None:
        return _torchvision
    dist = next(importlib.metadata.distributions(name="torchvision", path=[str(TORCHVISION_DIR), *sys.path]), None)
    if dist is None:
        raise ImportError(f"torchvision is not installed: {_TORCHVISION_INSTALL}")
    if dist.version != TORCHVISION_VERSION:
        raise ImportError(
            f"torchvision {dist.version} found at {dist.locate_file('')}; the tests compare with "
            f"{TORCHVISION_VERSION}: {_TORCHVISION_INSTALL}"
        )
    # the package's directory, found without importing it
    package = importlib.machinery.PathFinder.find_spec("torchvision", [str(dist.locate_file(""))])
    ops = Path(next(iter(package.submodule_search_locations))) / "ops"

    root = ModuleType(_TV, "torchvision's loss files, loaded by tests/peer_libraries.py")
    root.__path__ = []  # a package with no files of its own: only what is registered below
    utils = ModuleType(f"{_TV}.utils", "stand-in for torchvision.utils")
    utils._log_api_usage_once = lambda obj: None
    ops_package = ModuleType(f"{_TV}.ops")
    ops_package.__path__ = []
    sys.modules.update({_TV: root, f"{_TV}.utils": utils, f"{_TV}.ops": ops_package})
    modules = {}
    for name in _TV_FILES:
        spec = importlib.util.spec_from_file_location(f"{_TV}.ops.{name}", ops / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    _torchvision = SimpleNamespace(
        version=dist.version,
        location=ops,
        generalized_box_iou_loss=modules["giou_loss"].generalized_box_iou_loss,
        distance_box_iou_loss=modules["diou_loss"].distance_box_iou_loss,
        complete_box_iou_loss=modules["ciou_loss"].complete_box_iou_loss,
        sigmoid_focal_loss=modules["focal_loss"].sigmoid_focal_loss,
    )
    return _torchvision


def peer_api(peer: str, name: str):
    """The installed peer's class (or function) that ``spec.compat``'s ``peer``/``name`` imitates."""
    if peer == "torch":
        if name == "sigmoid_focal_loss":
            return torchvision_losses().sigmoid_focal_loss
        import torch

        return getattr(torch.nn, name)
    if peer == "keras":
        import keras

        return getattr(keras.losses, name)
    if peer == "monai":
        import monai.losses

        return getattr(monai.losses, name)
    if peer == "smp":
        return getattr(smp_losses(), name)
    raise ValueError(f"unknown peer {peer!r}")
