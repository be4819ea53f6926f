"""Pieces shared by the framework packages' class factories: signatures and
docstrings generated from a spec.  Nothing here touches a tensor."""

from __future__ import annotations

import inspect
from typing import Any

from spec.registry import LossSpec


def init_signature(spec: LossSpec, trailing: list[tuple[str, Any]]) -> inspect.Signature:
    """``__init__(self, *, <spec params>, <trailing framework arguments>)``."""
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for param in spec.params.params:
        parameters.append(inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY, default=param.default))
    for name, default in trailing:
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
    return inspect.Signature(parameters)


def class_doc(spec: LossSpec, framework_args: str) -> str:
    """The spec's documentation followed by the framework's own arguments."""
    params = "\n".join(f"        {p.name}: {p.doc} (default {p.default!r})." for p in spec.params.params)
    return (
        f"{spec.doc}\n\nParameters (keyword-only, shared with the other framework and the neutral config):\n"
        f"{params}\n\nFramework arguments:\n{framework_args}"
    )


def non_default(spec: LossSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters that differ from their defaults (for reprs)."""
    defaults = spec.params.defaults()
    return {k: v for k, v in params.items() if v != defaults[k]}
