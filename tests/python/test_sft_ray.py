"""glyph.sft on Ray Data (a local Ray instance the test starts): the same files as the local
path for the same seed."""
from __future__ import annotations

import pytest

import glyph
import glyph.sft

from sft_helpers import check_json_rows, qa_records, tree

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'glyphcpp[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def test_ray_output_equals_local_output(tmp_path, local_ray):
    recs = qa_records()
    style = {"font-size": {"min": 7, "max": 10}, "dpi": [48, 60],
             "alignment": {"choices": ["LEFT", "JUSTIFY"]}}
    kw = dict(task="ocr", style=style, seed=5, shard_size=7, progress=False, plot=False)
    local = glyph.sft.build(recs, tmp_path / "local", workers=2, **kw)
    dist = glyph.sft.build(recs, tmp_path / "ray", ray="auto", workers=2, **kw)
    assert local.exit_code == dist.exit_code == 0
    assert dist.records == local.records == len(recs) and dist.pages == local.pages
    check_json_rows(tmp_path / "ray")
    assert tree(tmp_path / "ray") == tree(tmp_path / "local")


def test_cli_ray_flag_with_failing_records(tmp_path, local_ray):
    """`glyph sft --ray ADDRESS` (here the local instance the fixture started, found by "auto"):
    the same files as the local CLI run, failures.jsonl included, and the same exit status."""
    import json

    from glyph.cli import main

    from sft_helpers import write_jsonl

    recs = qa_records()[:3]
    src = write_jsonl(tmp_path / "in.jsonl", recs[:2] + [{"id": "noctx", "question": "q", "answer": "a"}]
                      + recs[2:])
    src.write_text(src.read_text(encoding="utf-8") + '{"id": "torn", \n', encoding="utf-8")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(dict(glyph.RenderConfig.glyph_default().to_dict(), dpi=48)))
    common = ["sft", "--input", str(src), "--config", str(cfg), "--task", "ocr", "--quiet",
              "--no-plot", "--workers", "2"]
    assert main(common + ["--out", str(tmp_path / "local")]) == 1
    assert main(common + ["--out", str(tmp_path / "ray"), "--ray", "auto"]) == 1
    fails = [json.loads(l) for l in (tmp_path / "ray" / "failures.jsonl").read_text().splitlines()]
    assert [(f["id"], f["kind"]) for f in fails] == [("noctx", "missing_field"),
                                                     ("in.jsonl:5", "malformed_line")]
    check_json_rows(tmp_path / "ray")
    assert tree(tmp_path / "ray") == tree(tmp_path / "local")
