"""The compat layer as a whole: every class keeps its peer's signature, the page
``docs/compat.md`` is current, errors name the argument, and the TensorFlow Keras
classes serialise."""

from __future__ import annotations

import inspect
from pathlib import Path

# torch must be imported before tensorflow: keep this order.
# isort: off
import numpy as np
import pytest
import torch

import losses_torch.compat.keras
import losses_torch.compat.monai
import losses_torch.compat.smp
import losses_torch.compat.torch

import keras

import losses_tf.compat.keras
import losses_tf.compat.monai
import losses_tf.compat.smp
import losses_tf.compat.torch

from peer_libraries import peer_api
from spec import compat

# isort: on

PAGE = Path(__file__).resolve().parents[1] / "docs" / "compat.md"
MODULES = {
    "torch": {
        "keras": losses_torch.compat.keras,
        "torch": losses_torch.compat.torch,
        "monai": losses_torch.compat.monai,
        "smp": losses_torch.compat.smp,
    },
    "tensorflow": {
        "keras": losses_tf.compat.keras,
        "torch": losses_tf.compat.torch,
        "monai": losses_tf.compat.monai,
        "smp": losses_tf.compat.smp,
    },
}
DEFINITIONS = [pytest.param(d, id=f"{d.peer}.{d.name}") for d in compat.definitions()]


def _parameters(api) -> list[tuple[str, object, object]]:
    """``(name, kind, default)`` of a signature or a callable, without ``self``, ``*args``, ``**kwargs``."""
    signature = api if isinstance(api, inspect.Signature) else inspect.signature(api)
    parameters = [p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    return [(p.name, p.kind, p.default) for p in parameters]


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_constructor_and_call_are_the_peers(definition):
    """Names, order, kinds and defaults of the constructor and of the call, as the installed peer has them."""
    peer = peer_api(definition.peer, definition.name)
    ours = _parameters(definition.signature())
    theirs = _parameters(peer if definition.function else peer.__init__)
    assert [(name, kind) for name, kind, _ in ours] == [(name, kind) for name, kind, _ in theirs]
    for (name, _, default), (_, _, peer_default) in zip(ours, theirs, strict=True):
        assert default == peer_default, f"{definition.qualname}: {name} defaults to {default!r}, peer {peer_default!r}"
    if definition.function:
        return
    # Keras' call is keras.losses.Loss.__call__(y_true, y_pred, sample_weight=None)
    peer_call = keras.losses.Loss.__call__ if definition.keras_loss else peer.forward
    assert [n for n, _, _ in _parameters(definition.call_signature())] == [n for n, _, _ in _parameters(peer_call)]


@pytest.mark.parametrize("framework", sorted(MODULES))
@pytest.mark.parametrize("definition", DEFINITIONS)
def test_each_framework_exports_each_class(definition, framework):
    api = getattr(MODULES[framework][definition.peer], definition.name)
    if definition.function:
        assert callable(api) and api.__name__ == definition.name
    else:
        assert api.__name__ == definition.name and api.definition is definition
    assert definition.qualname in api.__doc__
    if framework == "torch" and not definition.function:
        assert issubclass(api, torch.nn.Module)
    if framework == "tensorflow" and definition.keras_loss:
        assert issubclass(api, keras.losses.Loss)


def test_docs_compat_md_is_current():
    assert PAGE.read_text(encoding="utf-8") == compat.markdown(), (
        "docs/compat.md is stale: run `lossbridge compat --write docs/compat.md`"
    )


def test_page_lists_every_class():
    page = compat.markdown()
    for definition in compat.definitions():
        assert f"| `{definition.name}`" in page, definition.qualname


@pytest.mark.parametrize("framework", sorted(MODULES))
def test_a_wrong_constructor_call_names_the_peer_class(framework):
    module = MODULES[framework]["torch"]
    with pytest.raises(TypeError, match=r"torch\.nn\.CrossEntropyLoss: .*unexpected keyword argument 'wieght'"):
        module.CrossEntropyLoss(wieght=None)
    with pytest.raises(TypeError, match=r"torch\.nn\.GaussianNLLLoss: too many positional arguments"):
        module.GaussianNLLLoss(True)


@pytest.mark.parametrize("framework", sorted(MODULES))
def test_an_argument_the_layer_cannot_honour_is_refused(framework):
    module = MODULES[framework]["torch"]
    with pytest.raises(ValueError, match=r"pos_weight=\(2, 3\) is not supported"):
        module.BCEWithLogitsLoss(pos_weight=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none', got 'avg'"):
        module.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"p=3 is not supported"):
        module.MultiMarginLoss(p=3)
