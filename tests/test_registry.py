"""A registered loss is covered: documented, exercised by presets that move
every parameter, and fed edge cases by its sample generator."""

import numpy as np
import pytest

import losses_tf
import losses_torch
import spec
from spec import parity

NAMES = spec.names()
# class_axis is driven by the matrix itself (both layouts in every case)
MATRIX_DRIVEN = {"class_axis"}


@pytest.mark.parametrize("name", NAMES)
def test_presets_move_every_parameter(name):
    loss = spec.get(name)
    defaults = loss.params.defaults()
    moved = {key for preset in loss.presets.values() for key, value in preset.items() if value != defaults[key]}
    untouched = set(defaults) - moved - MATRIX_DRIVEN
    assert not untouched, f"{name}: no preset moves {sorted(untouched)} off its default"


@pytest.mark.parametrize("name", NAMES)
def test_documented(name):
    loss = spec.get(name)
    doc = loss.doc
    assert ".. math::" in doc and "Args:" in doc and "Returns:" in doc
    for param in loss.params.names():
        assert f"{param}:" in doc, f"{name}: docstring does not explain {param!r}"
    assert loss.class_name in losses_torch.__all__ and loss.class_name in losses_tf.__all__
    assert getattr(losses_torch.functional, name).__doc__ == doc
    assert getattr(losses_tf.functional, name).__doc__ == doc


@pytest.mark.parametrize("name", NAMES)
def test_samples_include_edge_cases(name):
    loss = spec.get(name)
    for preset in loss.presets.values():
        samples = loss.samples(np.random.default_rng(0), loss.bind(preset))
        kinds = {s.name for s in samples}
        assert "perfect" in kinds, f"{name}: no perfect-prediction sample"
        assert any(s.smooth for s in samples), f"{name}: no sample where finite differences apply"
        batch_value = loss.bind(preset).get("batch") or "batch_value" in loss.tags  # one value per batch
        assert any(s.sample_weight is not None for s in samples) or batch_value, name
        if loss.inputs.kind == "classes" or "from_logits" in loss.params.names():
            assert any(np.abs(s.y_pred).max() >= 50 for s in samples) or loss.bind(preset).get("from_logits") is False


def test_matrix_enumerates_both_layouts_and_target_forms():
    cases = parity.cases(spec.get("dice"), {"default": {}})
    assert {c.layout for c in cases} == {"channels_first", "channels_last"}
    assert {c.target_form for c in cases} == {"labels", "dense"}
    assert {c.reduction for c in cases} == {"mean", "sum", "none"}
    assert {len(c.y_pred.shape) for c in cases} == {4, 5}  # 2-D and 3-D maps
