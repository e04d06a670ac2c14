"""What an install promises (docs/install.md): one version everywhere, a warning naming the fix for
characters no font has (CJK above all), and glyph.vlm saying why glyph._vlm does not load."""
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import glyph
glyph_render = sys.modules["glyph.render"]  # (glyph.render is the function)

ROOT = Path(__file__).resolve().parents[2]


def test_one_version():
    text = (ROOT / "python" / "glyph" / "_version.py").read_text()
    (written,) = re.findall(r'^__version__ = "([0-9]+\.[0-9]+\.[0-9]+)"$', text, re.M)
    assert glyph.__version__ == written
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'input = "python/glyph/_version.py"' in pyproject
    assert not re.search(r'^version = "', pyproject, re.M), "pyproject.toml writes a version again"
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "python/glyph/_version.py" in cmake and "project(glyph VERSION ${GLYPH_VERSION}" in cmake
    out = subprocess.run([sys.executable, "-m", "glyph", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"glyphcpp {written}"
    # the CMake package of a build tree carries it too (scripts/test.sh's build/cpp)
    version_file = ROOT / "build" / "cpp" / "glyphConfigVersion.cmake"
    if version_file.exists():
        assert f'set(PACKAGE_VERSION "{written}")' in version_file.read_text()
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text()


def _no_fallback() -> glyph.RenderConfig:
    cfg = glyph.RenderConfig.glyph_default()
    cfg.fallback_font_paths = []
    return cfg


def _missing_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught if issubclass(w.category, glyph.MissingFontWarning)]


def test_cjk_without_its_font_warns_with_the_font_to_add(tmp_path):
    cjk = glyph.find_cjk_font()
    if not cjk:
        pytest.skip("no CJK font on this machine (the no-font message is tested below)")
    r = glyph.Renderer(_no_fallback())
    result, hints = _missing_warnings(lambda: r.render("Glyph 渲染中文"))
    assert result.stats.missing_glyphs == 4
    assert len(hints) == 1 and cjk in hints[0] and "fallback-font-paths" in hints[0], hints
    assert "U+6E32 '渲'" in hints[0]
    # every render call warns, once
    _, hints = _missing_warnings(lambda: r.render_to_dir("中文", tmp_path, "d"))
    assert len(hints) == 1
    _, hints = _missing_warnings(lambda: r.render_each("中文", lambda page: None))
    assert len(hints) == 1
    _, hints = _missing_warnings(lambda: r.render_batch(["中文", "文", "ok"]))
    assert len(hints) == 1
    # with the fallback (glyph_default adds the CJK font it finds): drawn, no warning
    result, hints = _missing_warnings(lambda: glyph.Renderer().render("Glyph 渲染中文"))
    assert result.stats.missing_glyphs == 0 and hints == []


def test_cjk_with_no_cjk_font_names_the_package_and_the_variable(monkeypatch):
    # As on a machine without any CJK font (scripts/check_wheel_isolated.sh shows it for real in
    # a bare Debian root): the lookup finds nothing.
    monkeypatch.setattr(glyph_render._core, "find_cjk_font", lambda: "")
    _, hints = _missing_warnings(lambda: glyph.Renderer(_no_fallback()).render("中文"))
    assert len(hints) == 1
    assert "no CJK font was found" in hints[0]
    assert "fonts-noto-cjk" in hints[0] and "GLYPH_CJK_FONT" in hints[0], hints[0]


def test_non_cjk_missing_glyphs_say_add_a_font():
    result, hints = _missing_warnings(lambda: glyph.Renderer(_no_fallback()).render("a \U00013000"))
    assert result.stats.missing_glyphs == 1
    assert len(hints) == 1 and "U+13000" in hints[0] and "fallback-font-paths" in hints[0]
    assert "CJK" not in hints[0]


def test_cli_prints_the_warning_once(tmp_path):
    text = tmp_path / "zh.txt"
    text.write_text("abc 中文\n", encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"font-path": glyph.default_font_path()}))
    out = subprocess.run([sys.executable, "-m", "glyph", "render", str(text), "--config", str(cfg),
                          "--no-save"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("warning: glyph: ")]
    assert len(lines) == 1 and "2 characters had no glyph" in lines[0], out.stderr
    assert "missing glyphs:  2" in out.stdout


def _package_copy(tmp_path: Path, vlm_file: bytes = None, built_against: str = None) -> Path:
    """glyph's Python files and glyph._core in a folder of their own, with or without a _vlm."""
    src = Path(glyph.__file__).parent
    dst = tmp_path / "pkg" / "glyph"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_vlm*", "__pycache__"))
    if vlm_file is not None:
        (dst / Path(glyph._core.__file__).name.replace("_core", "_vlm")).write_bytes(vlm_file)
    if built_against:
        (dst / "_vlm_build.json").write_text(json.dumps({"torch": built_against}))
    return dst.parent


def _import_vlm_error(pkg: Path) -> str:
    code = ("import glyph\ntry:\n    import glyph.vlm\nexcept ImportError as e:\n    print(e)\n"
            "else:\n    print('imported')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(pkg), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_vlm_missing_says_how_to_build_it(tmp_path):
    pytest.importorskip("torch")
    msg = _import_vlm_error(_package_copy(tmp_path))
    assert "glyph._vlm is not installed" in msg and "--no-build-isolation" in msg, msg


def test_vlm_built_against_another_torch_names_both(tmp_path):
    torch = pytest.importorskip("torch")
    pkg = _package_copy(tmp_path, vlm_file=b"not a shared library", built_against="1.0.0")
    msg = _import_vlm_error(pkg)
    assert f"built against torch 1.0.0, but torch {torch.__version__} is installed" in msg, msg
    assert "--no-build-isolation" in msg
