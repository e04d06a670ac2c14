"""The names 0.2 renamed (CHANGELOG.md, 0.2.0, "Renamed") keep working until 0.3: each old name
gives what its new one gives, with one DeprecationWarning naming the new name."""
import importlib
import warnings

import pytest

import glyph

TEXT = "Little Red Riding Hood walked through the wood to her grandmother's house. " * 4


def _one_deprecation(new_name: str):
    """A context that fails unless exactly one DeprecationWarning naming `new_name` is raised."""
    class _Check:
        def __enter__(self):
            self._cm = warnings.catch_warnings(record=True)
            self.rec = self._cm.__enter__()
            warnings.simplefilter("always")
            return self

        def __exit__(self, *exc):
            self._cm.__exit__(*exc)
            if exc[0] is not None:
                return False
            dep = [w for w in self.rec if issubclass(w.category, DeprecationWarning)]
            assert len(dep) == 1, [str(w.message) for w in self.rec]
            msg = str(dep[0].message)
            assert "deprecated" in msg and "0.3" in msg and new_name in msg, msg
            assert dep[0].filename == __file__, dep[0].filename  # points at the caller's line
            return False
    return _Check()


def test_new_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        glyph.RenderConfig.glyph_default()
        glyph.IoError, glyph.NotImplementedError, glyph.load_tokenizer


def test_render_config_default():
    with _one_deprecation("RenderConfig.glyph_default"):
        old = glyph.RenderConfig.default()
    assert old == glyph.RenderConfig.glyph_default()


def test_error_aliases():
    with _one_deprecation("glyph.IoError"):
        assert glyph.GlyphIOError is glyph.IoError
    with _one_deprecation("glyph.NotImplementedError"):
        assert glyph.GlyphNotImplementedError is glyph.NotImplementedError
    with pytest.raises(AttributeError, match="no attribute 'GlyphNoSuchError'"):
        glyph.GlyphNoSuchError


def test_tokenizer_aliases(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([TEXT] * 10, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    new = glyph.Tokenizer.from_json(path.read_text())
    with _one_deprecation("Tokenizer.from_json"):
        old = glyph.Tokenizer.from_str(path.read_text())
    assert old.encode(TEXT) == new.encode(TEXT) == tok.encode(TEXT).ids
    with _one_deprecation("Tokenizer.vocab_size"):
        assert old.get_vocab_size() == new.vocab_size == tok.get_vocab_size()

    pipeline = importlib.import_module("glyph.pipeline")
    with _one_deprecation("glyph.load_tokenizer"):
        loader = pipeline.load_tokenizer
    assert loader is glyph.load_tokenizer


def test_render_to_dir_output_dir(tmp_path):
    new = glyph.render_to_dir(TEXT, out_dir=str(tmp_path / "new"), unique_id="a")
    with _one_deprecation("out_dir"):
        old = glyph.render_to_dir(TEXT, output_dir=str(tmp_path / "old"), unique_id="a")
    assert [open(p, "rb").read() for p in old] == [open(p, "rb").read() for p in new]
    with pytest.raises(TypeError, match="both out_dir and output_dir"), \
            pytest.warns(DeprecationWarning):
        glyph.render_to_dir(TEXT, out_dir=str(tmp_path / "x"), output_dir=str(tmp_path / "y"))


def test_result_mapping_access():
    stats = glyph.Renderer().render(TEXT).stats
    with _one_deprecation("RenderStats.pages"):
        assert stats["pages"] == stats.pages >= 1
    with _one_deprecation("RenderStats.pages"):
        assert stats.get("pages") == stats.pages
    assert stats.get("no_such_field", "fallback") == "fallback"
    with pytest.raises(KeyError):
        stats["no_such_field"]


def test_vlm_ask_cpp():
    pytest.importorskip("torch")
    try:
        vlm = importlib.import_module("glyph.vlm")
    except ImportError as e:  # a build without the VLM
        pytest.skip(str(e))
    with _one_deprecation("glyph.vlm.ask"):
        assert vlm.ask_cpp is vlm.ask
