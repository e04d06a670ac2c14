"""File arguments across the bindings: str, bytes and os.PathLike (pathlib.Path) alike, and a file
name that is not UTF-8 (what os.listdir gives as a str with surrogate escapes) reaches the file
system as its bytes instead of failing with pybind's "incompatible function arguments"."""
import os
import sys
from pathlib import Path

import pytest

import glyph

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX byte file names")


def _odd(tmp_path: Path, stem: str, suffix: str) -> str:
    """A path under tmp_path whose last name holds the byte 0xff (not UTF-8), as a str."""
    return os.path.join(str(tmp_path), os.fsdecode(stem.encode() + b"\xff" + suffix.encode()))


def test_config_text_and_pages_take_every_path_form(tmp_path):
    cfg = glyph.RenderConfig.glyph_default()
    odd = _odd(tmp_path, "cfg", ".json")
    for path in (tmp_path / "a.json", os.fsencode(tmp_path / "b.json"), odd):
        cfg.save(path)
        assert glyph.RenderConfig.from_file(path).to_json() == cfg.to_json()
    assert os.path.exists(os.fsencode(odd))  # the name on disk is the byte 0xff, not U+FFFD

    text = _odd(tmp_path, "story", ".txt")
    Path(text).write_text("Little Red Riding Hood walked through the wood.", encoding="utf-8")
    want = glyph.render("Little Red Riding Hood walked through the wood.", cfg).pages[0].pixels
    for path in (Path(text), os.fsencode(text), text):
        page = glyph.Renderer(cfg).render(glyph.TextSource.from_file(path)).pages[0]
        assert (page.pixels == want).all()
    with pytest.raises(glyph.IoError, match="nope"):  # still the file error, named
        glyph.TextSource.from_file(tmp_path / "nope.txt")

    page = glyph.render("A page.", cfg).pages[0]
    png = _odd(tmp_path, "page", ".png")
    page.save(png)
    page.save(Path(tmp_path) / "page.png")
    assert Path(png).read_bytes() == (tmp_path / "page.png").read_bytes()


def test_render_to_dir_gives_back_the_names_it_wrote(tmp_path):
    out = _odd(tmp_path, "pages", "")
    paths = glyph.Renderer().render_to_dir("Some text to render.", out, "doc")
    assert len(paths) == 1 and paths[0].startswith(out) and os.path.isfile(paths[0])


def test_config_path_keys_take_pathlib_paths(tmp_path):
    cfg = glyph.RenderConfig.glyph_default()
    font = Path(glyph.default_font_path())
    cfg.font_path = font
    cfg.fallback_font_paths = [font, str(font)]
    assert cfg.font_path == str(font) and cfg.fallback_font_paths == [str(font)] * 2
    with pytest.raises(glyph.ConfigError, match="font-path"):  # not a path: the key's own error
        cfg.font_path = 5
    d = cfg.to_dict()
    d["font-path"] = font.name
    assert glyph.RenderConfig.from_dict(d, base_dir=font.parent).font_path == str(font)


def test_search_space_and_tokenizer_files(tmp_path):
    space = glyph.SearchSpace.builtin(fonts=[Path(glyph.default_font_path())])
    f = _odd(tmp_path, "space", ".json")
    Path(f).write_text(space.to_json())
    assert glyph.SearchSpace.from_file(Path(f)).to_json() == space.to_json()
    with pytest.raises(glyph.GlyphError, match="nope"):
        glyph.SearchSpace.from_file(tmp_path / "nope.json")

    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["the red hood walked through the wood"] * 20, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    path = _odd(tmp_path, "tok", ".json")
    Path(path).write_text(tok.to_str())
    want = tok.encode("the red hood").ids
    for p in (path, Path(path), os.fsencode(path)):
        assert glyph.Tokenizer.from_file(p).encode("the red hood") == want
    with pytest.raises(glyph.GlyphError, match="config"):
        glyph.Tokenizer.from_file(path, config_path=tmp_path / "config-missing.json")


def test_cli_render_with_a_file_name_that_is_not_utf8(tmp_path, capsys):
    text = _odd(tmp_path, "in", ".txt")
    Path(text).write_text("A text whose file name is not UTF-8.", encoding="utf-8")
    from glyph import cli

    out = tmp_path / "out"
    assert cli.main(["render", text, "--out", str(out)]) == 0
    assert len(list(out.glob("*.png"))) == 1
    assert cli.main(["config", "--check", _odd(tmp_path, "missing", ".json")]) == 1
    assert "missing" in capsys.readouterr().err
