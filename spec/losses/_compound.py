"""Compound losses: weighted sums of registered losses, built from their
specs (no formula is restated here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spec.losses import _classification, _focal, _overlap  # noqa: F401  (the components register first)
from spec.losses._targets import dense_targets, is_label_target
from spec.params import Param, ParamSet
from spec.reduction import Combined, Weighted
from spec.registry import LossSpec, get, register

Tensor = Any


def compound(
    name: str,
    components: Sequence[tuple[str, str]],
    *,
    summary: str,
    fixed: Mapping[str, Any] | None = None,
    equivalences: str = "",
    references: str = "",
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    family: str = "segmentation",
) -> LossSpec:
    """Register ``sum_k lambda_k loss_k`` over registered losses.

    Args:
        name: spec name of the compound loss.
        components: ``(key, spec name)`` pairs; ``lambda_<key>`` weighs each.
        summary: first docstring line.
        fixed: component parameters held at a value (not exposed).
        equivalences: sentence(s) on the peers it equals, for ``Returns:``.
        references: the ``References:`` text.
        presets: extra presets (the components' presets are included).
        family: catalog group.

    Parameters of the components are exposed once by name; a name several
    components share is passed to each of them.  The inputs, samples and
    class-axis handling are those of the first component.
    """
    fixed = dict(fixed or {})
    specs = [get(spec_name) for _, spec_name in components]
    params: dict[str, Param] = {}
    for spec in specs:
        for param in spec.params.params:
            if param.name not in fixed:
                params.setdefault(param.name, param)
    weights = [
        Param(f"lambda_{key}", "float", 1.0, f"weight of the {spec_name} term", low=0.0)
        for key, spec_name in components
    ]

    def formula(ops: Any, y_pred: Tensor, y_true: Tensor, **kwargs: Any) -> Combined:
        values = {**fixed, **kwargs}
        dense = mask = None
        parts = []
        for (key, _), spec in zip(components, specs, strict=True):
            own = spec.formula_kwargs({n: values[n] for n in spec.params.names()})
            if spec.inputs.kind == "elementwise" and is_label_target(ops, y_pred, y_true):
                # a per-element component (e.g. a sigmoid focal term) reads the one-hot
                # targets; ignored positions leave its mean, as they leave the others'
                if dense is None:
                    ignore = values.get("ignore_index")
                    dense, mask = dense_targets(
                        ops, y_pred, y_true, class_axis=values["class_axis"], ignore_index=ignore
                    )
                elements = spec.formula(ops, y_pred, dense, **own)
                if mask is not None:
                    elements = Weighted(elements * mask, mask + 0.0 * elements)
            else:
                elements = spec.formula(ops, y_pred, y_true, **own)
            parts.append((values[f"lambda_{key}"], elements))
        return Combined(tuple(parts))

    terms = " + ".join(rf"\lambda_{{\mathrm{{{key}}}}}\,\ell_{{\mathrm{{{key}}}}}" for key, _ in components)
    names = ", ".join(f"``{spec_name}``" for _, spec_name in components)
    args = "\n".join(
        f"        {p.name}: {p.doc}"
        + (
            f" (passed to {', '.join(s.name for s in specs if p.name in s.params.names())})"
            if not p.name.startswith("lambda_")
            else ""
        )
        + "."
        for p in [*params.values(), *weights]
    )
    formula.__doc__ = f"""{summary}

    .. math::

        \\ell = {terms}

    The terms are the registered losses {names}, evaluated with the
    parameters below; each is reduced on its own (same ``sample_weight`` and
    ``reduction``) and the results are summed with their weights.
    {"Held fixed: " + ", ".join(f"``{k}={v!r}``" for k, v in fixed.items()) + "." if fixed else ""}

    Args:
        y_pred: as for ``{specs[0].name}``.
        y_true: as for ``{specs[0].name}``.
{args}

    Returns:
        The combined loss; ``"none"`` gives one value per sample. {equivalences}

    References:
        {references or "See the component losses."}
    """
    formula.__name__ = formula.__qualname__ = name
    merged = {"default": {}}
    moved: set[str] = set()
    for index, ((key, _), spec) in enumerate(zip(components, specs, strict=True)):
        defaults = spec.params.defaults()
        for preset, values in spec.presets.items():
            # the samples are the first component's: per-class lists of the
            # others' presets may not fit their number of classes
            sized = index > 0 and any(isinstance(v, list) for v in values.values())
            values = {k: v for k, v in values.items() if k not in fixed}
            if preset == "default" or sized:
                continue
            novel = {k for k, v in values.items() if v != defaults[k]} - moved
            if novel:  # presets that move something no earlier preset moved (keeps the matrix small)
                merged[f"{key}_{preset}"] = dict(values)
                moved |= novel
    merged["weighted"] = {w.name: 0.25 + 0.5 * i for i, w in enumerate(weights)}
    merged.update(presets or {})
    return register(
        LossSpec(
            name=name,
            formula=formula,
            params=ParamSet((*params.values(), *weights)),
            inputs=specs[0].inputs,
            family=family,
            presets=merged,
            samples=specs[0].samples,
        )
    )


compound(
    "dice_crossentropy",
    [("dice", "dice"), ("ce", "categorical_crossentropy")],
    summary="Dice plus cross-entropy, each reduced on its own and weighted.",
    fixed={"multilabel": False},
    equivalences=(
        "``monai.losses.DiceCELoss(softmax=True, to_onehot_y=True, lambda_dice=a, lambda_ce=b, "
        "smooth_nr=s, smooth_dr=s, batch=B, include_background=K)`` = ``lambda_dice=a, lambda_ce=b, "
        "smooth=s, batch=B, include_background=K`` (class axis 1; tested in ``tests/test_peers_compound.py``, "
        "values and gradients of the torch module)."
    ),
    references=(
        'Isensee et al., "nnU-Net: a self-configuring method for deep learning-based biomedical '
        'image segmentation", Nature Methods 2021 (Dice + CE as the default segmentation loss).'
    ),
    presets={"squared": {"squared": True, "lambda_ce": 0.5}},
)


compound(
    "dice_focal",
    [("dice", "dice"), ("focal", "sigmoid_focal")],
    summary="Dice plus a per-class sigmoid focal loss (MONAI's DiceFocalLoss), each reduced on its own.",
    fixed={"multilabel": False, "pos_weight": None, "soft_form": "p_t"},
    equivalences=(
        "``monai.losses.DiceFocalLoss(softmax=True, to_onehot_y=True, gamma=g, alpha=a, lambda_dice=l1, "
        "lambda_focal=l2, batch=B)`` = ``gamma=g, alpha=a, lambda_dice=l1, lambda_focal=l2, batch=B`` "
        "(class axis 1, include_background=True; tested in ``tests/test_peers_compound.py``, values and "
        "gradients of the torch module): MONAI's focal term is a sigmoid focal loss on the one-hot "
        "targets, averaged over every class and position. For a softmax focal term use ``dice_softmax_focal``."
    ),
    references=(
        'Zhu et al., "AnatomyNet: Deep learning for fast and fully automated whole-volume segmentation '
        'of head and neck anatomy", Medical Physics 2019 (Dice + focal).'
    ),
    presets={"squared": {"squared": True, "lambda_focal": 0.5}},
)

compound(
    "generalized_dice_focal",
    [("gdl", "generalized_dice"), ("focal", "sigmoid_focal")],
    summary="Generalized Dice plus a per-class sigmoid focal loss (MONAI's GeneralizedDiceFocalLoss).",
    fixed={"multilabel": False, "pos_weight": None, "soft_form": "p_t", "alpha": None},
    equivalences=(
        "``monai.losses.GeneralizedDiceFocalLoss(softmax=True, to_onehot_y=True, w_type=t, gamma=g, "
        "lambda_gdl=a, lambda_focal=b)`` = ``weight_type=t, gamma=g, lambda_gdl=a, lambda_focal=b`` "
        "(class axis 1, include_background=True; tested in ``tests/test_peers_compound.py``, values and "
        "gradients of the torch module); the focal term is a sigmoid focal loss on the "
        "one-hot targets, as in MONAI."
    ),
    references=(
        'Sudre et al., "Generalised Dice overlap as a deep learning loss function", DLMIA 2017; '
        "Lin et al. 2017 (focal)."
    ),
    presets={"squared": {"squared": True, "lambda_focal": 0.5}},
)

compound(
    "dice_softmax_focal",
    [("dice", "dice"), ("focal", "focal")],
    summary="Dice plus a softmax focal loss, each reduced on its own and weighted.",
    fixed={"multilabel": False},
    equivalences="Both terms are tested against their peers on their own; no library ships this pair.",
    references='Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017; Milletari et al. 2016 (Dice).',
    presets={"squared": {"squared": True, "lambda_focal": 0.5}},
)
