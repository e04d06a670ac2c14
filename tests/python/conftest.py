import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = ROOT.parent / "shared" / "data" / "glyph-reference"
sys.path.insert(0, str(ROOT / "tests" / "reference"))


@pytest.fixture(scope="session")
def ref_dir() -> Path:
    if not (REFERENCE_DIR / "config_en.json").exists():
        pytest.skip(f"Glyph reference data not found at {REFERENCE_DIR}")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def config_en(ref_dir) -> dict:
    cfg = json.loads((ref_dir / "config_en.json").read_text())
    cfg["font-path"] = str(ref_dir / "Verdana.ttf")
    return cfg


@pytest.fixture(scope="session")
def reference():
    """The reference pipeline (reportlab + pdftoppm); skipped where either is missing."""
    pytest.importorskip("reportlab")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    import glyph_reference

    return glyph_reference
