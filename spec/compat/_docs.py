"""Documentation generated from the compat definitions: class docstrings and ``docs/compat.md``."""

from __future__ import annotations

from spec import registry
from spec.compat._core import PEER_MODULES, PEER_VERSIONS, REQUIRED, PeerLoss, definitions

_FRAMEWORKS = {"torch": "PyTorch", "tensorflow": "TensorFlow"}


def _default(value: object) -> str:
    return "required" if value is REQUIRED else repr(value)


def docstring(definition: PeerLoss, framework: str) -> str:
    """The generated class's docstring."""
    # a definition without spec losses wraps another loss (MONAI's DeepSupervisionLoss)
    losses = ", ".join(f"``{name}``" for name in definition.losses) or "wrapped loss"
    lines = [
        f"``{definition.qualname}`` ({PEER_VERSIONS[definition.peer]}), computed by lossbridge's {losses} "
        f"in {_FRAMEWORKS[framework]}.",
        "",
        f"Constructor: ``{definition.name}{definition.signature()}``, the peer's arguments in the peer's order; "
        f"call: ``{definition.call_signature()}`` in the peer's layout "
        f"({'channels-last' if definition.class_axis == -1 else 'channels-first'}).",
        "",
        "Arguments:",
    ]
    for arg in (*definition.call, *definition.args) if definition.function else definition.args:
        if arg.means:
            lines.append(f"    {arg.name} (default {_default(arg.default)}): {arg.means}")
    if definition.unsupported:
        lines += ["", "Not supported (raises ``ValueError``):"]
        lines += [f"    {name}: {why}" for name, why in definition.unsupported.items()]
    if definition.notes:
        lines += ["", "Notes: " + definition.notes]
    for name in definition.losses:
        lines += ["", f"{name}: {registry.get(name).summary}"]
    return "\n".join(lines)


def markdown() -> str:
    """The page ``docs/compat.md``."""
    out = [
        "# Compat classes",
        "",
        "Generated from `spec/compat/` by `lossbridge compat --write docs/compat.md`; do not edit by hand.",
        "Each class below exists in `losses_torch.compat.<peer>` and `losses_tf.compat.<peer>` with the",
        "peer's constructor, call convention and layout; the conformance tests (`tests/test_compat_<peer>.py`)",
        "compare it with the installed peer in values and gradients, in both frameworks.",
        "",
    ]
    for peer, module in PEER_MODULES.items():
        members = definitions(peer)
        if not members:
            continue
        out += [
            f"## {module} ({PEER_VERSIONS[peer]}): {len(members)} classes",
            "",
            "| peer class | spec loss | argument -> lossbridge | not supported |",
            "|---|---|---|---|",
        ]
        for definition in members:
            arguments = "<br>".join(
                f"`{arg.name}`={_default(arg.default)} -> {arg.means}"
                for arg in ((*definition.call, *definition.args) if definition.function else definition.args)
                if arg.means
            )
            unsupported = "<br>".join(f"`{name}`: {why}" for name, why in definition.unsupported.items()) or "—"
            losses = ", ".join(f"`{name}`" for name in definition.losses) or "(the wrapped loss)"
            name = f"`{definition.name}`" + (" (function)" if definition.function else "")
            out.append(f"| {name} | {losses} | {arguments or '—'} | {unsupported} |")
        notes = [d for d in members if d.notes]
        if notes:
            out += ["", "Notes:", ""]
            out += [f"- `{d.name}`: {d.notes}" for d in notes]
        out.append("")
    return "\n".join(out)


__all__ = ["docstring", "markdown"]
