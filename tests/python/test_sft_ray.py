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
