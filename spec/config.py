"""The neutral, JSON-serialisable loss config.

``{"name": "dice", "params": {"smooth": 1.0, ...}, "reduction": "mean"}``

* ``name`` -- a registered spec name;
* ``params`` -- the loss's parameters (all of them when written by lossbridge,
  any subset when written by hand; missing ones take their defaults);
* ``reduction`` -- optional, ``"mean"`` (default), ``"sum"`` or ``"none"``;
* ``dtype``, ``display_name`` -- optional framework extras (Keras' computation
  dtype and display name); the other framework accepts and ignores them.

Layout is not part of the neutral meaning: with ``class_axis`` unset (None)
each framework applies its own convention (torch 1, Keras -1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from spec.reduction import canonical_reduction
from spec.registry import LossSpec, get

CONFIG_KEYS = ("name", "params", "reduction", "dtype", "display_name")


def to_config(spec: LossSpec, params: Mapping[str, Any], *, reduction: str = "mean", **extras: Any) -> dict[str, Any]:
    """The neutral config of ``spec`` with bound ``params``."""
    config: dict[str, Any] = {"name": spec.name, "params": dict(params), "reduction": canonical_reduction(reduction)}
    config.update({k: v for k, v in extras.items() if v is not None})
    json.dumps(config)  # configs must stay JSON-serialisable
    return config


def load(config: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """A config as a mapping (JSON strings are parsed)."""
    if isinstance(config, str):
        config = json.loads(config)
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping with keys 'name' and 'params', got {type(config).__name__}")
    return config


def is_multitask(config: Mapping[str, Any]) -> bool:
    """Multi-task configs describe several losses under ``"outputs"``."""
    return "outputs" in config


def from_config(config: Mapping[str, Any] | str) -> tuple[LossSpec, dict[str, Any], dict[str, Any]]:
    """Parse a neutral config (a mapping or a JSON string).

    Returns:
        ``(spec, bound_params, extras)`` where ``extras`` holds ``reduction``
        (canonical) and any of ``dtype`` / ``display_name``.

    Raises:
        TypeError / ValueError naming the offending key or value.
    """
    config = load(config)
    if is_multitask(config):
        raise ValueError(
            "a multi-task config (key 'outputs') describes several losses; "
            "build it with losses_torch.from_config or losses_tf.from_config"
        )
    unknown = [key for key in config if key not in CONFIG_KEYS]
    if unknown:
        raise ValueError(f"config has unknown key(s) {unknown}; expected keys among {list(CONFIG_KEYS)}")
    if "name" not in config:
        raise ValueError(f"config needs a 'name' (a registered loss name), got keys {list(config)}")
    spec = get(config["name"])
    params = config.get("params") or {}
    if not isinstance(params, Mapping):
        raise TypeError(f"config 'params' must be a mapping of parameter names to values, got {type(params).__name__}")
    extras = {"reduction": canonical_reduction(config.get("reduction", "mean"))}
    extras.update({key: config[key] for key in ("dtype", "display_name") if config.get(key) is not None})
    return spec, spec.bind(params), extras
