"""The docs describe what the code has: every config key of the field table has its row in
docs/config.md."""
from pathlib import Path

import glyph

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_config_key_is_documented():
    table = (DOCS / "config.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = {k.strip().strip("`") for row in rows for k in row.split("|")[1].split(",")}
    keys = [f.key for f in glyph.RenderConfig.fields()]
    assert keys == glyph.RenderConfig.keys() and len(keys) > 20
    missing = [k for k in keys if k not in documented]
    assert not missing, f"docs/config.md has no row for {missing}"
    # and every attribute named in the table exists
    for f in glyph.RenderConfig.fields():
        assert hasattr(glyph.RenderConfig(), f.attr), f.attr


def test_every_notebook_is_listed():
    notebooks = sorted(p.name for p in (DOCS.parent / "examples" / "notebooks").glob("*.ipynb"))
    listed = (DOCS / "notebooks.md").read_text(encoding="utf-8")
    assert notebooks and all(f"`{n}`" in listed for n in notebooks), notebooks
    assert "docs/notebooks.md" in (DOCS.parent / "README.md").read_text(encoding="utf-8")
