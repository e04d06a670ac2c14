"""The CUDA kernels are in the built module (issue 10): sm_80 and sm_90 machine code, with
tensor-core MMA instructions in the packed attention kernels and the v2 decode, Hopper's warpgroup MMA in the sm_90a
kernel, and the page-to-patch kernel (one per output dtype). Runs wherever the package was built with them (GLYPH_WITH_CUDA: nvcc and a CUDA
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
        # and version 2 of the split-KV decode (backends "mma" and "wgmma"), built the same way
        mma = {f: body for f, body in sass[arch].items()
               if "varlen_mma_kernel" in f or "decode_mma_kernel" in f}
        assert len(mma) == 8, (arch, sorted(sass[arch]))
        for f, body in mma.items():
            assert re.search(r"\bHMMA\.16816\.F32", body), f"{arch} {f}: no tensor-core MMA"
            assert re.search(r"\bLDSM\.16\.M88\.4\b", body), f"{arch} {f}: no ldmatrix"
            assert re.search(r"\bLDSM\.16\.MT88\.4\b", body), f"{arch} {f}: no transposed ldmatrix"
            assert re.search(r"\bLDGSTS\b", body), f"{arch} {f}: no cp.async"


@pytest.mark.skipif(not vlm.cuda_kernels_built(), reason="built without GLYPH_WITH_CUDA")
@pytest.mark.skipif(cuobjdump() is None, reason="no cuobjdump (CUDA toolkit or Triton)")
def test_module_holds_sm90a_warpgroup_mma_attention():
    """Version 3 (backend "wgmma") exists as sm_90a code only, with its products on warpgroup MMA
    (HGMMA) from descriptors into shared memory that cp.async filled, the async-proxy fence
    between the two, and no copy of it for another architecture."""
    sass = sass_by_arch(vlm.__file__)
    assert "sm_90a" in sass, sorted(sass)
    v3 = {f: body for f, body in sass["sm_90a"].items() if "varlen_wgmma_kernel" in f}
    assert len(v3) == 4, sorted(sass["sm_90a"])  # fp16 and bf16, head_dim 64 and 128
    for f, body in v3.items():
        d = 128 if "Li128E" in f else 64
        # S = Q.K^T: m64n128k16 from two descriptors; O += P.V: m64n{d}k16, P from registers and
        # V transposed by the instruction
        assert re.search(r"\bHGMMA\.64x128x16\.F32\b.*gdesc\[UR\d+\], R", body), f"{f}: no S wgmma"
        assert re.search(rf"\bHGMMA\.64x{d}x16\.F32\b.*, R\d+, gdesc\[UR\d+\]", body), f"{f}: no P.V wgmma"
        assert re.search(r"\bLDGSTS\b", body) and "FENCE.VIEW.ASYNC.S" in body, f
    for arch, funcs in sass.items():
        assert arch == "sm_90a" or not any("varlen_wgmma_kernel" in f for f in funcs), arch


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


@pytest.mark.skipif(not vlm.cuda_kernels_built(), reason="built without GLYPH_WITH_CUDA")
@pytest.mark.skipif(cuobjdump() is None, reason="no cuobjdump (CUDA toolkit or Triton)")
def test_every_kernel_name_holds_glyph():
    """The GPU check runs compute-sanitizer with --kernel-name kns=glyph, which instruments only
    kernels whose mangled name holds "glyph" (scripts/gpu_check.py, sanitizer_options): every
    kernel of the module must, or the sanitizer would skip it silently."""
    sass = sass_by_arch(vlm.__file__)
    names = {f for funcs in sass.values() for f in funcs}
    assert names and all("glyph" in f for f in names), sorted(f for f in names if "glyph" not in f)


def test_wgmma_layout_model_matches_the_kernel():
    """scripts/wgmma_layout_model.py (the Hopper kernel's descriptors replayed against the
    canonical wgmma layouts) passes, with the tile constants the kernel has now."""
    import importlib.util
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    src = open(os.path.join(root, "cpp", "src", "vlm", "ops", "cuda", "hopper",
                            "attention_wgmma.cu")).read()
    const = {n: int(v) for n, v in re.findall(r"constexpr int (k\w+) = (\d+);", src)}
    spec = importlib.util.spec_from_file_location(
        "wgmma_layout_model", os.path.join(root, "scripts", "wgmma_layout_model.py"))
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    assert (const["kRowsW"], const["kKeysW"], const["kSwizzleRow"]) == (
        model.ROWS_Q, model.KEYS, model.ROW)
    for d in (64, 128):
        model.check(d)


def _dynamic(so):
    """(NEEDED names, RUNPATH folders with $ORIGIN resolved) of a shared object, by readelf."""
    out = subprocess.run(["readelf", "-d", so], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    paths = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]*)\]", out)
    origin = os.path.dirname(os.path.realpath(so))
    return needed, [p.replace("$ORIGIN", origin) for ps in paths for p in ps.split(":")]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="no readelf")
def test_module_finds_torch_and_cuda_libraries_on_its_own():
    """glyph._vlm names the folders of torch's libraries and, in a CUDA build, of the CUDA runtime
    of the nvidia wheels, relative to itself: `import glyph._vlm` before torch (or on a machine
    with no CUDA toolkit installed system-wide) resolves them without LD_LIBRARY_PATH. The GPU
    machine's rehearsal found a CUDA build that needed a system CUDA for libcudart."""
    import torch

    needed, paths = _dynamic(vlm.__file__)
    site = os.path.dirname(os.path.dirname(os.path.realpath(vlm.__file__)))
    if os.path.realpath(os.path.dirname(os.path.dirname(torch.__file__))) != site:
        pytest.skip("glyph is not installed beside torch (the rpath is relative to site-packages)")
    ours = [n for n in needed if n.startswith(("libtorch", "libc10", "libcudart"))]
    assert any(n.startswith("libtorch") for n in ours), needed
    for name in ours:
        found = [p for p in paths if os.path.exists(os.path.join(p, name))]
        assert found, f"{name}: in none of the module's rpath folders {paths}"
