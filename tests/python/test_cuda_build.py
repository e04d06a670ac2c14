"""The CUDA kernels are in the built module (issue 10): sm_80 and sm_90 machine code, with
tensor-core MMA instructions in the packed attention kernel, and the page-to-patch kernel (one per
output dtype). Runs wherever the package was built with them (GLYPH_WITH_CUDA: nvcc and a CUDA
build of torch, as in CI); no GPU needed."""
import os
import re
import shutil
import subprocess

import pytest

pytest.importorskip("torch")
vlm = pytest.importorskip("glyph._vlm")


def cuobjdump():
    exe = shutil.which("cuobjdump")
    if exe:
        return exe
    try:  # the CUDA toolkit here has none; Triton's package carries one
        import triton
    except ImportError:
        return None
    cand = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    return cand if os.access(cand, os.X_OK) else None


def sass_by_arch(so):
    """{arch: {function name: SASS text}} from cuobjdump --dump-sass."""
    out = subprocess.run([cuobjdump(), "--dump-sass", so], capture_output=True, text=True,
                         check=True).stdout
    arch, func, found = None, None, {}
    for line in out.splitlines():
        m = re.search(r"arch = (sm_\d+a?)", line)
        if m:
            arch, func = m.group(1), None
            found.setdefault(arch, {})
            continue
        m = re.match(r"\s*Function : (\S+)", line)
        if m and arch:
            func = m.group(1)
            found[arch][func] = ""
            continue
        if arch and func:
            found[arch][func] += line + "\n"
    return found


@pytest.mark.skipif(not vlm.cuda_kernels_built(), reason="built without GLYPH_WITH_CUDA")
@pytest.mark.skipif(cuobjdump() is None, reason="no cuobjdump (CUDA toolkit or Triton)")
def test_module_holds_sm80_and_sm90_tensor_core_attention():
    sass = sass_by_arch(vlm.__file__)
    assert {"sm_80", "sm_90"} <= set(sass), sorted(sass)
    for arch in ("sm_80", "sm_90"):
        varlen = {f: body for f, body in sass[arch].items() if "varlen_kernel" in f}
        decode = [f for f in sass[arch] if "decode_kernel" in f]
        # fp16 and bf16, head_dim 64 and 128: four instantiations of each kernel
        assert len(varlen) == 4 and len(decode) == 4, (arch, sorted(sass[arch]))
        for f, body in varlen.items():
            assert re.search(r"\bHMMA\.16816\.F32", body), f"{arch} {f}: no tensor-core MMA"
        assert any(".BF16" in body for body in varlen.values()), f"{arch}: no bf16 MMA"
        # version 2 of the packed kernel (backend "mma"): MMA fed by ldmatrix (LDSM, its .T form
        # for V) from tiles that cp.async (LDGSTS) brought in
        mma = {f: body for f, body in sass[arch].items() if "varlen_mma_kernel" in f}
        assert len(mma) == 4, (arch, sorted(sass[arch]))
        for f, body in mma.items():
            assert re.search(r"\bHMMA\.16816\.F32", body), f"{arch} {f}: no tensor-core MMA"
            assert re.search(r"\bLDSM\.16\.M88\.4\b", body), f"{arch} {f}: no ldmatrix"
            assert re.search(r"\bLDSM\.16\.MT88\.4\b", body), f"{arch} {f}: no transposed ldmatrix"
            assert re.search(r"\bLDGSTS\b", body), f"{arch} {f}: no cp.async"


@pytest.mark.skipif(not vlm.cuda_kernels_built(), reason="built without GLYPH_WITH_CUDA")
@pytest.mark.skipif(cuobjdump() is None, reason="no cuobjdump (CUDA toolkit or Triton)")
def test_module_holds_sm80_and_sm90_page_patches_kernel():
    sass = sass_by_arch(vlm.__file__)
    assert {"sm_80", "sm_90"} <= set(sass), sorted(sass)
    for arch in ("sm_80", "sm_90"):
        kernels = {f: body for f, body in sass[arch].items() if "page_patches_kernel" in f}
        # float32, float16 and bfloat16 output: three instantiations
        assert len(kernels) == 3, (arch, sorted(sass[arch]))
        for f, body in kernels.items():
            # the integer resampling taps (IMAD) and the staged horizontal pass (shared stores)
            assert re.search(r"\bIMAD\b", body) and re.search(r"\bSTS", body), f"{arch} {f}"
