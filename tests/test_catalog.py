"""The catalog page is generated from the registry and must be current."""

from pathlib import Path

import spec
from spec.catalog import markdown

PAGE = Path(__file__).resolve().parents[1] / "docs" / "losses.md"


def test_docs_losses_md_is_current():
    assert PAGE.read_text(encoding="utf-8") == markdown(), (
        "docs/losses.md is stale: run `lossbridge catalog --write docs/losses.md`"
    )


def test_catalog_lists_every_registered_loss_once():
    page = markdown()
    for name in spec.names():
        assert page.count(f"| `{name}` |") == 1, name
