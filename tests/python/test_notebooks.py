"""The notebooks of examples/notebooks run from top to bottom (nbclient, a kernel of this very
Python) without a cell error, show what they are about (images, the search front, widgets), and
are committed without outputs."""
import base64
import io
import json
import os
import re
import shutil
import site
import sys
import time
from pathlib import Path

import pytest

import glyph

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "examples" / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
KERNEL = "glyph-tests"
NO_TORCH = "glyph-tests-no-torch"

nbformat = pytest.importorskip("nbformat")


def test_there_are_notebooks():
    assert len(NAMES) >= 4, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: cell {i} has outputs"
    assert "widgets" not in book.metadata, f"{name}: widget state is saved in the notebook"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """Kernelspecs that run this test's Python with this test's glyph first on the path, so the
    notebooks import the glyph under test (the tree's python/ in development, the installed
    package in CI); NO_TORCH's kernel finds a torch that fails to import, as if not installed."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    glyph_parent = os.path.dirname(os.path.dirname(os.path.abspath(glyph.__file__)))
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if glyph_parent not in site.getsitepackages():  # an installed glyph is found as it is
        path.insert(0, glyph_parent)
    hidden = root / "no-torch"
    (hidden / "torch").mkdir(parents=True)
    (hidden / "torch" / "__init__.py").write_text(
        'raise ImportError("No module named \'torch\' (hidden by test_notebooks)")\n')
    for name, extra in ((KERNEL, []), (NO_TORCH, [str(hidden)])):
        d = root / "kernels" / name
        d.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": name, "language": "python",
                "env": {"PYTHONPATH": os.pathsep.join(extra + path),
                        "MPLBACKEND": "module://matplotlib_inline.backend_inline"}}
        (d / "kernel.json").write_text(json.dumps(spec))
    return root


def execute(name, kernel_dir, cwd, parameters=None, timeout=120, kernel=KERNEL):
    """Runs the notebook (with `parameters` set in a cell after its parameters cell, as papermill
    does) and a last cell reporting which glyph the kernel imported; returns the notebook."""
    from nbclient import NotebookClient

    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    if parameters:
        at = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
        src = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
        book.cells.insert(at + 1, nbformat.v4.new_code_cell(src, metadata={"tags": ["injected-parameters"]}))
    book.cells.append(nbformat.v4.new_code_cell("import glyph as _g; print('GLYPH_FILE=' + _g.__file__)"))
    client = NotebookClient(book, timeout=timeout, kernel_name=kernel,
                            resources={"metadata": {"path": str(cwd)}})
    saved = os.environ.get("JUPYTER_PATH")
    # jupyter finds kernelspecs in <each JUPYTER_PATH entry>/kernels; nbclient owns the kernel
    # it starts, so it shuts it down after the run
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(kernel_dir)] + ([saved] if saved else []))
    t0 = time.time()
    try:
        client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    finally:
        if saved is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = saved
    book.metadata["glyph_test_seconds"] = time.time() - t0
    last = "".join(o.get("text", "") for o in book.cells[-1].outputs)
    assert f"GLYPH_FILE={glyph.__file__}" in last, (last, glyph.__file__)
    return book


def outputs(book):
    return [o for c in book.cells if c.cell_type == "code" for o in c.outputs]


def data_of(book, mime):
    return [o["data"][mime] for o in outputs(book) if mime in o.get("data", {})]


def text_of(book):
    return "".join(o.get("text", "") for o in outputs(book)) + "".join(data_of(book, "text/plain"))


def decode_png(b64):
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(b64)))


def html_images(html):
    return [decode_png(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_render_and_inspect(kernel_dir, tmp_path):
    book = execute("01_render_and_inspect.ipynb", kernel_dir, tmp_path)
    # the page and the config comparison as images, the result as a thumbnail strip
    pngs = [decode_png(b) for b in data_of(book, "image/png")]
    page = glyph.Renderer().render(glyph.sample_text()).pages[0]
    assert any(im.size == (page.width, page.height) for im in pngs)
    strips = [h for h in data_of(book, "text/html") if "glyph.RenderResult" in h]
    assert strips and all(html_images(h) for h in strips)
    out = text_of(book)
    assert "config_en.json" in out and "compression" in out
    if glyph.find_cjk_font():
        assert "config_zh.json" in out


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr not installed")
def test_config_search(kernel_dir, tmp_path):
    book = execute("02_config_search.ipynb", kernel_dir, tmp_path)
    fronts = [h for h in data_of(book, "text/html") if "Pareto front" in h]
    assert fronts and all(html_images(h) for h in fronts)  # the front, plotted inline
    assert data_of(book, "image/png")  # result.plot(): a matplotlib figure shown inline
    # the progress bars are notebook widgets (tqdm.auto with ipywidgets)
    if _has("ipywidgets"):
        assert data_of(book, "application/vnd.jupyter.widget-view+json")


def test_sft_data(kernel_dir, tmp_path):
    book = execute("03_sft_data.ipynb", kernel_dir, tmp_path)
    shards = list((tmp_path / "sft_out" / "data").glob("train-*.jsonl"))
    assert shards
    rows = [json.loads(l) for l in shards[0].read_text(encoding="utf-8").splitlines()]
    assert rows and all(r["images"] for r in rows)
    reports = data_of(book, "text/markdown")
    assert any("records: 3 kept, 0 dropped by the budget, 0 failed" in r for r in reports), reports
    page = rows[0]["images"][0]
    shown = [decode_png(b) for b in data_of(book, "image/png")]
    with open(tmp_path / "sft_out" / page, "rb") as f:
        assert f.read() in [base64.b64decode(b) for b in data_of(book, "image/png")]  # the page
    assert len(shown) >= 2  # the page and the histograms
    assert (tmp_path / "sft_out_ocr" / "data").is_dir()
    if _has("ipywidgets"):
        assert data_of(book, "application/vnd.jupyter.widget-view+json")


def test_evaluate(kernel_dir, tmp_path):
    book = execute("04_evaluate.ipynb", kernel_dir, tmp_path)
    out = text_of(book)
    if not (_has("torch") and _has("tokenizers") and _vlm_built()):
        assert "skipped" in out.lower()
        return
    res = json.loads((tmp_path / "eval_out" / "results.json").read_text())
    for mode in ("pages", "text"):  # four items asked, none lost
        m = res["modes"][mode]
        assert m["failed"] == 0 and "score" in m, m
    preds = (tmp_path / "eval_out" / "predictions.jsonl").read_text().splitlines()
    assert sorted(json.loads(p)["id"] for p in preds) == ["mf-0", "mf-1", "mf-2", "pc-0"]
    assert all(json.loads(p)["pages"] >= 1 for p in preds)
    assert any("| multifieldqa_en |" in m for m in data_of(book, "text/markdown"))
    assert data_of(book, "image/png")  # the plot
    assert any("glyph.RenderResult" in h for h in data_of(book, "text/html"))  # the pages


def test_ask_a_tiny_glm(kernel_dir, tmp_path):
    book = execute("05_ask_glm4v.ipynb", kernel_dir, tmp_path)
    out = text_of(book)
    if not (_has("torch") and _has("tokenizers") and _vlm_built()):
        assert "skipped" in out.lower()
        return
    assert "visual tokens" in out and "answer" in out.lower()


def test_ask_skips_the_model_cells_without_torch(kernel_dir, tmp_path):
    book = execute("05_ask_glm4v.ipynb", kernel_dir, tmp_path, kernel=NO_TORCH)
    out = text_of(book)
    assert "Model cells skipped: No module named 'torch' (hidden by test_notebooks)" in out
    assert "answer:" not in out
    assert [h for h in data_of(book, "text/html") if "glyph.RenderResult" in h]  # the pages still show


def test_ask_a_checkpoint_given_by_path(kernel_dir, tmp_path):
    """The checkpoint cells with CHECKPOINT set: a tiny transformers GLM-4.1V saved as a
    Hugging Face checkpoint folder (config, safetensors, tokenizer.json) stands in for Glyph's."""
    if not (_has("torch") and _has("tokenizers") and _has("transformers") and _vlm_built()):
        pytest.skip("needs torch, tokenizers, transformers and glyph._vlm")
    import vlm_tiny

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    hf_tok = vlm_tiny.make_glm_tokenizer(glyph.sample_text())
    hf_tok.save(str(ckpt / "tokenizer.json"))
    ids = [hf_tok.token_to_id(t) for t in ("<|image|>", "<|begin_of_image|>", "<|end_of_image|>")]
    vlm_tiny.save(vlm_tiny.make_model(seed=3, vocab=hf_tok.get_vocab_size(), image_ids=ids), str(ckpt))
    book = execute("05_ask_glm4v.ipynb", kernel_dir, tmp_path, parameters={"CHECKPOINT": str(ckpt)})
    out = text_of(book)
    assert f"loaded {ckpt}" in out
    assert out.count("visual tokens") >= 2  # the tiny model's answer and the checkpoint's


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _vlm_built():
    import importlib.util

    return importlib.util.find_spec("glyph._vlm") is not None
