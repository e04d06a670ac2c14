"""The shipped .pyi stubs match the compiled modules (mypy's stubtest): a binding changed without
regenerating its stub (scripts/gen_stubs.py) fails here."""
import importlib.util
import subprocess
import sys

import pytest

pytest.importorskip("mypy")

# Differences stubtest reports for every pybind11 class, which a stub cannot express: the
# metaclass (pybind11_type) and the catch-all __init__ of classes bound without a constructor.
NOISE = ("metaclass differs", 'stub does not have *args parameter "args"')

RUN = r"""
import importlib.util, sys
modules = ["glyph._core"]
try:
    import torch  # glyph._vlm needs libtorch loaded first
    if importlib.util.find_spec("glyph._vlm") is not None:  # built only where torch was
        modules.append("glyph._vlm")
except ImportError:
    pass
from mypy.stubtest import main
sys.argv = ["stubtest", "--concise"] + modules
sys.exit(main())
"""


def test_stubs_match_the_compiled_modules(tmp_path):
    out = subprocess.run([sys.executable, "-c", RUN], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    lines = [l for l in (out.stdout + out.stderr).splitlines() if l.strip()]
    problems = [l for l in lines if not any(n in l for n in NOISE)
                and not l.startswith("Found ") and not l.startswith("Success")]
    assert not problems, "\n".join(problems)
    # It did compare the modules (each pybind11 class gives its metaclass line).
    assert any(l.startswith("glyph._core.RenderConfig ") for l in lines), out.stdout + out.stderr
    if importlib.util.find_spec("torch") is not None and importlib.util.find_spec("glyph._vlm"):
        assert any(l.startswith("glyph._vlm.Glm4v ") for l in lines), out.stdout + out.stderr
