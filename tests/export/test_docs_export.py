"""The export's and the bench's documentation point users only at what they have (the package)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", ["export.md", "bench.md"])
def test_no_reference_to_the_development_checkout(name):
    text = (DOCS / name).read_text(encoding="utf-8")
    assert "shared/" not in text


def test_the_guarantees_are_documented():
    text = (DOCS / "export.md").read_text(encoding="utf-8")
    assert "## What export guarantees / refuses" in text
    section = text.split("## What export guarantees / refuses", 1)[1].split("\n## ", 1)[0]
    for topic in ("--overwrite", "config.json", "lock", "kill -9", ".onnx", "metadata_props"):
        assert topic in section, topic
