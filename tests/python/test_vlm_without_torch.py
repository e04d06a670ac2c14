"""`import glyph` never needs torch; glyph.vlm says clearly what is missing."""
import subprocess
import sys

CODE = r"""
import sys
sys.modules["torch"] = None          # as if torch were not installed
import glyph
assert hasattr(glyph, "Pipeline") and hasattr(glyph, "ModelLoadError")
assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
try:
    import glyph.vlm
except ImportError as e:
    assert "torch" in str(e), e
    print("ok")
"""


def test_import_glyph_without_torch():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
