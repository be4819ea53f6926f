"""The loss catalog page (``docs/losses.md``), generated from the registry.

``lossbridge catalog --write docs/losses.md`` regenerates it;
``tests/test_catalog.py`` fails when the committed page is not current.
"""

from __future__ import annotations

import re

from spec.registry import LossSpec, specs

HEADER = """# Loss catalog

Generated from the registry by `lossbridge catalog --write docs/losses.md`; do not edit by hand.
Every loss below is `losses_torch.<Class>` (an `nn.Module`, class axis 1) and
`losses_tf.<Class>` (a `keras.losses.Loss`, class axis -1), `functional.<name>` in both,
and a row of the parity matrix (`lossbridge parity --loss <name>`). The full documentation
(formula, arguments, shapes, peer equivalences) is the class docstring.
"""


def _section(doc: str, title: str) -> list[str]:
    """The indented lines under ``title:`` in a Google-style docstring."""
    lines = doc.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == f"{title}:":
            body = []
            for following in lines[index + 1 :]:
                if following and not following.startswith(" "):
                    break
                body.append(following.strip())
            return [line for line in body if line]
    return []


def _references(spec: LossSpec) -> str:
    text = " ".join(_section(spec.doc, "References"))
    return re.sub(r"\s+", " ", text).replace("|", "\\|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The catalog page, grouped by family, in registration order."""
    by_family: dict[str, list[LossSpec]] = {}
    for spec in specs():
        by_family.setdefault(spec.family, []).append(spec)
    out = [HEADER]
    count = sum(len(members) for members in by_family.values())
    out.append(f"{count} losses in {len(by_family)} families: " + ", ".join(by_family) + ".\n")
    for family, members in by_family.items():
        out.append(f"## {family.capitalize()}\n")
        out.append("| name | class | what it is | parameters (default) | reference |")
        out.append("|---|---|---|---|---|")
        for spec in members:
            params = ", ".join(f"`{p.name}` ({p.default!r})" for p in spec.params.params) or "—"
            reference = _references(spec) or "—"
            out.append(
                f"| `{spec.name}` | `{spec.class_name}` | {_cell(spec.summary)} | {_cell(params)} | {reference} |"
            )
        out.append("")
    return "\n".join(out)
