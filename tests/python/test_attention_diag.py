"""attention_diag.error_structure names the pattern of a wrong attention output: what a failed
GPU run reports about a kernel (the op tests' messages, the GPU check's probe)."""
import json

import pytest

torch = pytest.importorskip("torch")

from attention_diag import describe, error_structure, ranges  # noqa: E402


def _ref(tokens=300, heads=4, d=128, seed=0):
    return torch.randn(tokens, heads, d, generator=torch.Generator().manual_seed(seed))


def test_ranges():
    assert ranges([5, 1, 2, 3, 9, 9, 10]) == "1-3,5,9-10"
    assert ranges(range(0, 40, 2), limit=3) == "0,2,4,+17runs"
    assert ranges([]) == ""


def test_equal_outputs_have_no_structure():
    ref = _ref()
    assert error_structure(ref + 1e-4, ref) == {"bad": 0}


def test_unwritten_last_partial_tile():
    """NaN left in the last, partial query tile of the second sequence (rows 256-299 of a
    300-row sequence starting at 300): nonfinite, that sequence, positions 256-299, tile 4 of 64."""
    ref = _ref(600)
    out = ref.clone()
    out[300 + 256:] = float("nan")
    d = error_structure(out, ref, starts=[0, 300])
    assert d["nonfinite"] == d["bad"] == 44 * 4 * 128 and d["of"] == ref.numel()
    assert d["seqs"] == "1" and d["pos"] == "256-299" and d["tile64"] == "4" and d["tile128"] == "2"
    assert d["pos%64"] == "0-43" and d["heads"] == "0-3" and d["cols"] == "0-127"
    assert d["rows"][0] == [556, 0, "nonfinite"]


def test_second_half_of_every_tile_and_zero_rows():
    """Rows 64-127 of every 128-row tile written as zeros (one warpgroup that never stored)."""
    ref = _ref(300)
    out = ref.clone()
    for t0 in range(64, 300, 128):
        out[t0:t0 + 64] = 0
    d = error_structure(out, ref)
    assert d["pos%128"] == "64-127" and d["pos%64"] == "all" and d["tile128"] == "0-1"
    assert d["zero_rows"] == 4 * (64 + 64) and d["nonfinite"] == 0


def test_swapped_rows_and_heads_are_found():
    """Rows 8-15 hold rows 0-7's output (of the same head), head 1 holds head 0's: the nearest
    reference row names where each wrong row came from, at distance 0."""
    ref = _ref(64, heads=2, d=64)
    out = ref.clone()
    out[8:16] = ref[0:8]
    out[40, 1] = ref[40, 0]
    d = error_structure(out, ref, probes=20)
    near = {(t, h): rest for t, h, *rest in d["rows"]}
    assert near[(8, 0)][:3] == [0, 0, 0.0] and near[(15, 1)][:3] == [7, 1, 0.0]
    assert near[(40, 1)][:3] == [40, 0, 0.0] and near[(40, 1)][3] > 0.5
    assert d["pos"] == "8-15,40" and "col_map" not in d


def test_swapped_column_halves_are_mapped():
    """The two 64-column halves of D = 128 exchanged (a wrong 128-byte block of the swizzle)."""
    ref = _ref(200)
    out = torch.cat([ref[..., 64:], ref[..., :64]], dim=-1)
    d = error_structure(out, ref)
    assert d["cols"] == "0-127"
    assert d["col_map"].startswith("0>64,1>65,2>66") and d["col_map"].endswith(",+112cols")


def test_describe_is_one_field():
    ref = _ref(100)
    out = ref.clone()
    out[3, 2, 7] += 10
    line = describe(out, ref)
    assert " " not in line
    d = json.loads(line)
    assert d["bad"] == 1 and d["first"][:3] == [3, 2, 7] and d["rows"][0][:2] == [3, 2]


def test_op_tests_name_the_pattern_when_they_fail():
    """The op tests' comparison (test_vlm_ops._check_close) puts the structure in its message:
    here an output whose rows 64-127 of a 150-row sequence were never rescaled (doubled)."""
    import math
    import re

    import test_vlm_ops
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 150, 64, generator=g) for _ in range(3))
    scale = 1 / math.sqrt(64)
    out = test_vlm_ops.ref_attention(q, k, v, False, scale, upcast=False)
    test_vlm_ops._check_close([out], [q], [k], [v], False, scale)  # right: passes
    out[:, 64:128] *= 2
    with pytest.raises(AssertionError) as e:
        test_vlm_ops._check_close([out], [q], [k], [v], False, scale)
    msg = str(e.value).splitlines()[0]
    assert msg.startswith("sequence 0: error ")
    d = json.loads(re.search(r"\{.*\}", msg).group(0))
    assert d["pos"] == "64-127" and d["tile64"] == "1" and d["heads"] == "0-1"
    assert test_vlm_ops._unwritten(out, [0]) == 'unwritten: {"bad":0}'
    out[1, 5, 3] = float("nan")
    u = json.loads(test_vlm_ops._unwritten(out.transpose(0, 1), [0]).split(": ", 1)[1])
    assert u["bad"] == u["nonfinite"] == 1 and u["first"][:3] == [5, 1, 3]
