"""Compound losses: weighted sums of registered losses, built from their
specs (no formula is restated here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spec.losses import _classification, _overlap  # noqa: F401  (the components register first)
from spec.params import Param, ParamSet
from spec.reduction import Combined
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
        return Combined(
            tuple(
                (
                    values[f"lambda_{key}"],
                    spec.formula(ops, y_pred, y_true, **{n: values[n] for n in spec.params.names()}),
                )
                for (key, _), spec in zip(components, specs, strict=True)
            )
        )

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
    for index, ((key, _), spec) in enumerate(zip(components, specs, strict=True)):
        for preset, values in spec.presets.items():
            # the samples are the first component's: per-class lists of the
            # others' presets may not fit their number of classes
            sized = index > 0 and any(isinstance(v, list) for v in values.values())
            if preset != "default" and not set(values) & set(fixed) and not sized:
                merged[f"{key}_{preset}"] = dict(values)
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
        "smooth=s, batch=B, include_background=K`` (class axis 1, tested)."
    ),
    references=(
        'Isensee et al., "nnU-Net: a self-configuring method for deep learning-based biomedical '
        'image segmentation", Nature Methods 2021 (Dice + CE as the default segmentation loss).'
    ),
    presets={"squared": {"squared": True, "lambda_ce": 0.5}},
)
