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


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MB tmpfs: a disk that really fills up (ENOSPC). Needs root (mount); skipped otherwise.
    Tests resize it with `mount -o remount,size=...`."""
    import subprocess

    d = tmp_path / "tmpfs"
    d.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or 'mount failed'}); "
                    "the RLIMIT_FSIZE tests cover write errors")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)
