"""The GPU check of glyphcpp's VLM (issues 10 and 11): CUDA correctness first, then the full-size
benchmarks the Glyph paper's speedups are measured by. One run, in priority order, inside a time
budget; results are written as JSON under --out after every step (a cut-off run still reports),
and a table is printed last.

    bash scripts/gpu_check.sh                  # on the GPU machine: build, then this script
    python scripts/gpu_check.py --tiny         # on the CPU (CI): every step on tiny shapes

Steps:
  0. the device: card, driver, torch, commit; copy bandwidth and bf16 matrix rate measured here
  1. parity on the device: tiny transformers model vs glyphcpp, float32 (< 1e-4) and bfloat16
     (within 2x transformers' own bf16-vs-float32 error); greedy tokens; bf16 decode replayed from
     a captured CUDA graph gives the eager tokens; the attention op tests
  1b. the attention kernels (issue 10) against the best of PyTorch's SDPA backends on the same
     tensors: packed vision attention (1-64 pages), causal GQA prefill, split-KV decode (batch 1
     and 16); time, TFLOP/s or GB/s, the ratio, and the error against float32 SDPA; and every
     backend of the ops' dispatcher (glyph, mma, wgmma, flash) on each shape: the `dispatch`
     lines, which ops/attention.cpp's dispatch table is filled from. glyphcpp's backends are first
     probed in a child process (`probe` lines; where a backend is wrong, which rows, columns,
     heads and tiles: tests/python/attention_diag.py), so one that faults costs only the child. The
     table those lines give is set for the later steps (set_attention_dispatch) and printed as
     rows to paste into ops/attention.cpp
  1c. the fused page-to-patch path (issue 10): real rendered pages as uint8 through
     op_page_patches / op_page_patch_embed on the device; the patches checked bit for bit against
     the CPU image processor; pages/s of pack + uint8 upload + kernel + GEMM against the CPU image
     processor + upload of its float32 patches + the same GEMM, and the ratio
  1d. only where a backend failed the probe: compute-sanitizer's memcheck, racecheck and
     synccheck on it (at most 100 s); where all passed, the same on every backend after step 5,
     as the budget allows
  2. prefill, text vs pages: a full-size random GLM-4.1V (Glm4v.random) on real rendered pages
     (Glyph's default config, the sample text repeated); text tokens from a byte-level BPE trained
     here with GLM-4's split pattern; also the curve at the paper's 3.3x compression; peak memory
  3. decode throughput over random caches (benchmark_decode), text vs pages, batch 1 and the
     largest batch that fits (at the first context also 4 and 16); time over its floor (bytes each step reads / copy bandwidth); at the
     first context also the eager step, for what the CUDA graph saves
  4. glyphcpp vs transformers (bf16, sdpa, the same weights) prefill and batch-1 decode
  5. the loader on the checkpoint step 4 saved (seconds, GB/s, peak host memory)
The model is random: only the timings mean anything, not the answers.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import glyph  # noqa: E402
import glyph.vlm as gv  # noqa: E402
import vlm_tiny  # noqa: E402
from attention_diag import error_structure  # noqa: E402

# GLM-4's pre-tokenizer split (tokenizer.json of GLM-4 / GLM-4.1V).
GLM4_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
              r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
PAPER_RATIO = 3.3
PAPER_PREFILL = {4096: 1.8, 131072: 4.8}


class Run:
    """Results so far, written to OUT/gpu_check.json after every step."""

    def __init__(self, out, budget):
        self.out, self.t0, self.budget = out, time.time(), budget
        self.results = {"steps": {}, "skipped": [], "errors": {}}
        os.makedirs(out, exist_ok=True)

    def left(self):
        return self.budget - (time.time() - self.t0)

    def save(self):
        self.results["elapsed_s"] = round(time.time() - self.t0, 1)
        tmp = os.path.join(self.out, "gpu_check.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.results, f, indent=1, default=str)
        os.replace(tmp, os.path.join(self.out, "gpu_check.json"))

    def step(self, name, need_s, fn):
        if self.left() < need_s:
            self.results["skipped"].append(f"{name} (needs ~{need_s:.0f} s, {self.left():.0f} left)")
            self.save()
            return None
        print(f"[gpu_check] {name} ({self.left():.0f} s left)", flush=True)
        t = time.time()
        try:
            r = fn()
            self.results["steps"][name] = r
        except Exception as e:  # a failed step is reported; the later ones still run
            self.results["errors"][name] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
            r = None
        self.results.setdefault("seconds", {})[name] = round(time.time() - t, 1)
        self.save()
        return r


def gv_kernels_built():
    from glyph import _vlm
    return bool(_vlm.cuda_kernels_built())


def glyph_vlm_last_backend():
    from glyph import _vlm
    return _vlm.last_attention_backend()


_SCRATCH = {}


def timed(dev, fn, repeat=3, flush=False, stat="min"):
    """Seconds of fn, the least (or the median) of `repeat` runs.

    On a GPU, CUDA events around fn (METHOD.md). With `flush`, a 1 GB buffer is written first
    and the start event is recorded behind that write with no synchronisation between: the write
    keeps the device busy (~0.3 ms) while the host queues fn's launches, so the time is the
    kernels' own, not the host's path to them (tens of microseconds, which a 128K decode kernel
    of ~30 us would otherwise be judged by), and the L2 cache (60 MB on an H200) holds nothing of
    the last run: a memory-bound kernel is timed reading device memory, as in the model. Without
    `flush` the start event follows a synchronisation, so the host's part of fn is in its time
    (the steps whose fn does host work). On the CPU, the host clock."""
    times = []
    for _ in range(repeat):
        if flush:  # (on the CPU too, where it costs little, so tiny mode runs this line)
            if dev not in _SCRATCH:
                _SCRATCH[dev] = torch.empty((1 << 30) if dev.type == "cuda" else (16 << 20),
                                            dtype=torch.uint8, device=dev)
        if dev.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            if flush:
                _SCRATCH[dev].fill_(1)
            else:
                torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
            continue
        if flush:
            _SCRATCH[dev].fill_(1)
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) if stat == "min" else sorted(times)[len(times) // 2]


def run_child(cmd, timeout, env=None):
    """(stdout, stderr, exit code) of a command in a process group of its own, the group killed
    when the command ends or at `timeout` seconds, whichever is first: what it started goes too
    (compute-sanitizer's target process, which would otherwise run on, sharing the GPU with the
    timings after it). Past the timeout the exit code is None, with what it printed so far. (Its
    output goes to files, not pipes: a process left holding a pipe cannot keep this waiting.)"""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:  # (a process stuck in the driver may not die at once: not waited for past 30 s)
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        fo.seek(0)
        fe.seek(0)
        return (fo.read().decode(errors="replace"), fe.read().decode(errors="replace"), rc)


# The attention ops' timings (ours and every baseline alike): the median of 5, the cache flushed.
OPS_TIMING = dict(repeat=5, flush=True, stat="median")


# ---- 0: the device ----------------------------------------------------------------------------

def device_info(dev, tiny):
    info = {"torch": torch.__version__, "device": str(dev), "tiny": tiny}
    # The device tool sends the working tree without .git: the command then names the commit
    # (GLYPH_COMMIT=$(git rev-parse --short HEAD), docs/benchmarks.md).
    try:
        info["commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True).stdout.strip() or None
    except OSError:
        info["commit"] = None
    info["commit"] = info["commit"] or os.environ.get("GLYPH_COMMIT") or None
    if dev.type == "cuda":
        info["card"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        try:
            info["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True).stdout.strip()
        except OSError:
            info["driver"] = None
    n = (1 << 20) if tiny else (1 << 30)  # bytes copied
    a = torch.empty(n, dtype=torch.uint8, device=dev)
    b = torch.empty_like(a)
    s = timed(dev, lambda: b.copy_(a), repeat=5)
    info["copy_GBps"] = round(2 * n / s / 1e9, 1)  # read + write
    m = 256 if tiny else 8192
    x = torch.randn(m, m, device=dev, dtype=torch.bfloat16)
    y = torch.randn(m, m, device=dev, dtype=torch.bfloat16)
    s = timed(dev, lambda: x @ y, repeat=5)
    info["bf16_TFLOPs"] = round(2 * m ** 3 / s / 1e12, 2)
    del a, b, x, y
    return info


# ---- 1: parity ------------------------------------------------------------------------------

def rel_err(a, b):
    """max |a - b| / max |b|, on the tensors' own device."""
    a, b = a.float(), b.float()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def pytest_child(args, env, timeout):
    """pytest in a child process (-q -rf, at most 30 failures): its summary line, the tests that
    failed with their whole message, its lines joined (the op tests' messages carry the error's
    structure, tests/python/attention_diag.py), and whether all passed; a child that hangs is
    reported, not waited for, with the end of what it printed."""
    # COLUMNS: pytest cuts the summary's lines to the terminal's width. The summary's FAILED
    # lines hold only a message's first line; the JUnit XML report holds all of it (an assertion
    # that quotes a child's stderr starts with "Traceback"), so each failure is named from there.
    fd, xml = tempfile.mkstemp(suffix=".xml")
    os.close(fd)
    try:
        out, err, rc = run_child([sys.executable, "-m", "pytest", "-q", "-rf", "--maxfail=30",
                                  f"--junitxml={xml}", *args], timeout,
                                 env={**os.environ, "COLUMNS": "1200", **env})
        if rc is None:
            return dict(summary=f"timed out after {timeout:.0f} s", failed=[], ok=False,
                        tail=out[-300:])
        failed = junit_failures(xml)
    finally:
        os.unlink(xml)
    summary = out.strip().splitlines()[-1] if out.strip() else err[-500:]
    if failed is None:  # (no report: pytest itself failed) the summary's lines
        failed = [ln[7:1500] for ln in out.splitlines() if ln.startswith("FAILED ")][:30]
    return dict(summary=summary, failed=failed, ok=rc == 0)


def junit_failures(path, limit=30, width=1500):
    """'file.py::test[id] - message' for each failed or erroring test of a JUnit XML report, the
    message's lines joined by ' | '; None where the report is missing or unreadable."""
    import xml.etree.ElementTree as ET

    try:
        cases = ET.parse(path).getroot().iter("testcase")
    except (OSError, ET.ParseError):
        return None
    out = []
    for c in cases:
        for bad in [*c.findall("failure"), *c.findall("error")]:
            mod = c.get("classname", "").split(".")
            where = "/".join(mod[:-1] + [mod[-1] + ".py"]) if mod[0] else c.get("file", "?")
            # the report's "E   " lines are the exception's message, whole (the message
            # attribute is cut by pytest after its first line)
            lines = [ln[1:].strip() for ln in (bad.text or "").splitlines() if ln.startswith("E ")]
            lines = lines or (bad.get("message") or "").splitlines()
            out.append(f"{where}::{c.get('name')} - "
                       + " | ".join(ln for ln in lines if ln.strip())[:width])
    return out[:limit]


def parity(dev, tmp, run_op_tests, rehearse=False, run=None):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    hf = vlm_tiny.make_model(seed=3).eval()
    path = os.path.join(tmp, "tiny")
    vlm_tiny.save(hf, path)
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)]
    proc = vlm_tiny.hf_image_processor()  # (PIL's resize: torchvision's differs, and is there)
    ref_in = proc(images=imgs, return_tensors="pt")
    counts = [int(r.prod()) // 4 for r in ref_in["image_grid_thw"]]
    ids = vlm_tiny.prompt_ids(hf.config, counts, [6, 5], seed=1)
    inp = torch.tensor([ids], device=dev)
    kw = dict(pixel_values=ref_in["pixel_values"].to(dev), image_grid_thw=ref_in["image_grid_thw"].to(dev),
              mm_token_type_ids=(inp == hf.config.image_token_id).int())
    out = {}
    logits = {}
    for dtype in (torch.float32, torch.bfloat16):
        m = hf.to(dev, dtype)
        with torch.no_grad():
            logits[("hf", dtype)] = m(input_ids=inp, **kw).logits[0].float().cpu()
        g = gv.Glm4v.from_pretrained(path, device=str(dev), dtype=str(dtype).replace("torch.", ""))
        logits[("glyph", dtype)] = g.forward(ids, images=imgs).float().cpu()
        if dtype == torch.float32:
            r = g.generate(ids, images=imgs, max_new_tokens=8, stop_ids=[-1])
            with torch.no_grad():
                hf_tok = m.generate(input_ids=inp, attention_mask=torch.ones_like(inp),
                                    max_new_tokens=8, do_sample=False, eos_token_id=None,
                                    pad_token_id=0, **kw)[0, len(ids):].tolist()
            out["greedy_equal"] = r.tokens == hf_tok
        else:
            # The decode step replayed from a captured CUDA graph (bf16: the kernels' path) must
            # give the eager step's tokens; on the CPU both are eager.
            on = g.generate(ids, images=imgs, max_new_tokens=12, stop_ids=[-1])
            g.set_runtime_options(cuda_graphs=False)
            off = g.generate(ids, images=imgs, max_new_tokens=12, stop_ids=[-1])
            out["graph_used"] = bool(on.decode_cuda_graph)
            out["graph_tokens_equal"] = on.tokens == off.tokens
    # The same with glyphcpp's own kernels inside the graph: the tiny model's head_dim 16 is
    # flash's on CUDA, so a random model with head_dim 64 (text and vision) in bf16.
    cfg64 = vlm_tiny.tiny_config(hidden=512, heads=8, kv_heads=2, vision_hidden=128, vision_heads=2,
                                 intermediate=256, vision_intermediate=256)
    g64 = gv.Glm4v.random(cfg64, device=str(dev), dtype="bfloat16", seed=5)
    ids64 = vlm_tiny.prompt_ids(cfg64, [], [40], seed=2)
    on = g64.generate(ids64, max_new_tokens=12, stop_ids=[-1])
    out["graph64_backend"] = glyph_vlm_last_backend()
    g64.set_runtime_options(cuda_graphs=False)
    off = g64.generate(ids64, max_new_tokens=12, stop_ids=[-1])
    out["graph64_used"] = bool(on.decode_cuda_graph)
    out["graph64_tokens_equal"] = on.tokens == off.tokens
    f32 = logits[("hf", torch.float32)]
    out["fp32_rel_err"] = rel_err(logits[("glyph", torch.float32)], f32)
    out["bf16_rel_err"] = rel_err(logits[("glyph", torch.bfloat16)], f32)
    out["hf_bf16_rel_err"] = rel_err(logits[("hf", torch.bfloat16)], f32)
    out["fp32_ok"] = out["fp32_rel_err"] < 1e-4
    out["bf16_ok"] = out["bf16_rel_err"] <= 2 * out["hf_bf16_rel_err"] + 1e-3
    if run_op_tests:
        # The stable backends' tests first, then each experimental backend's attention tests in
        # a process of its own (GLYPH_TEST_ATTENTION_TARGETS), so that a kernel that faults fails
        # only its own tests; not -x: which tests fail is what the next session needs.
        tests = os.path.join(ROOT, "tests", "python")
        # (Timeouts well above the expected ~60 s and ~15 s, and never past what leaves the
        # later steps ~200 s.) Only the tests with a CUDA case (their ids name cuda) or no CPU
        # form (the dispatch rules', the feature cache's): CI runs the CPU's.
        cuda_only = "cuda or dispatch_rules or image_keys"
        runs = [("stable", "cuda-auto,cuda-glyph,cuda-flash,cuda-aten", 150,
                 [os.path.join(tests, "test_vlm_ops.py"), os.path.join(tests, "test_vlm_runtime.py")
                  + "::test_cuda_graph_decode_gives_the_eager_tokens", "-k", cuda_only])]
        runs += [(b, f"cuda-{b}", 45, [os.path.join(tests, "test_vlm_ops.py"), "-k",
                                       "attention_varlen or attention_with_kvcache"])
                 for b in ("mma", "wgmma")]
        if rehearse:  # (no GPU: the same children, with the CPU target, which they then run)
            runs = [(n, t + ",cpu", 4 * s, [x if x != cuda_only else cuda_only + " or cpu"
                                            for x in a]) for n, t, s, a in runs]
        out["op_tests"], out["op_tests_failed"], out["op_tests_ok"] = {}, [], True
        for name, targets, timeout, args in runs:
            if run is not None and not rehearse:
                timeout = min(timeout, max(20, run.left() - 200))
            r = pytest_child(args, {"GLYPH_TEST_ATTENTION_TARGETS": targets}, timeout)
            out["op_tests"][name] = r["summary"]
            out["op_tests_failed"] += r["failed"]
            if "tail" in r:  # a hung child: what it printed last
                out.setdefault("op_tests_tail", {})[name] = r["tail"]
            out["op_tests_ok"] = out["op_tests_ok"] and r["ok"]
    out["ok"] = bool(out["fp32_ok"] and out["bf16_ok"] and out["greedy_equal"]
                     and out["graph_tokens_equal"] and out["graph64_tokens_equal"]
                     and out["graph_used"] == (dev.type == "cuda" and gv_kernels_built())
                     and out["graph64_used"] == (dev.type == "cuda" and gv_kernels_built())
                     and out.get("op_tests_ok", True))
    return out


# ---- 1b: the attention kernels against SDPA's backends ---------------------------------------

def _sdpa_backends():
    from torch.nn.attention import SDPBackend
    return {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
            "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}


def _best_sdpa(dev, fn, names, expanded=None, disagree=None, what=""):
    """The fastest of SDPA's backends that accepts the call: (name, seconds, output). With
    `expanded` (the same call on K/V repeated to the query heads, made before the timing), each
    backend is also timed on that, as "<name>+kv": a backend that refuses enable_gqa or a causal
    bias with it still competes, so the baseline is the best either way. The first backend that
    runs (flash, where it takes the call) is the anchor: one whose output differs from it by more
    than bf16's rounding (relative 0.02) is not a baseline (its output is every glyph backend's
    reference), and is named in `disagree` (a list; `what`: the shape) instead."""
    from torch.nn.attention import sdpa_kernel
    best = anchor = None
    backends = _sdpa_backends()
    for suffix, f in [("", fn)] + ([("+kv", expanded)] if expanded else []):
        for name in names:
            try:
                with sdpa_kernel([backends[name]]):
                    out = f()
                    t = timed(dev, f, **OPS_TIMING)
            except Exception:  # a backend that refuses this shape or dtype
                continue
            if anchor is None:
                anchor = (name + suffix, out)
            else:
                e = rel_err(out, anchor[1])
                if not e <= 0.02:
                    if disagree is not None:
                        disagree.append(f"{what}: {name + suffix} differs from {anchor[0]} by {e:.4f}")
                    continue
            if best is None or t < best[1]:
                best = (name + suffix, t, out)
    return best


def _repeat_kv(x, heads):
    """[B, kv_heads, S, D] -> [B, heads, S, D], each KV head repeated for its query heads."""
    return x.repeat_interleave(heads // x.shape[1], dim=1).contiguous()


# Each of glyphcpp's CUDA backends on every form the ops step times (packed vision pages, a causal
# GQA prefill, a prefill chunk into a cache, decode), with the model's head shapes, in a child
# process: a kernel that faults (which poisons the CUDA context for the rest of a process) or
# hangs costs only that child, and a backend that does not pass here is left out of the
# in-process timings (and so of the dispatch table the later steps run with).
_PROBE = r"""
import sys, torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right
from glyph import _vlm as vlm
sys.path.insert(0, sys.argv[1])
from attention_diag import describe
# n: tokens of a page / the prefill / the context; tol: the relative error a form may have
device, n, tol = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
dt = torch.bfloat16 if device == "cuda" else torch.float32
g = torch.Generator(device="cpu").manual_seed(0)
rnd = lambda *s: torch.randn(*s, generator=g).to(device, dt)
err = lambda a, b: ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()
def report(b, form, ran, out, ref, starts):
    # outputs start as NaN, so an unwritten element shows; a wrong form gets a diag line
    e = err(out, ref) if not out.isnan().any() else float("nan")
    print(b, form, ran, round(e, 5), flush=True)
    if not e <= tol:
        rows = lambda t: t.reshape(-1, *t.shape[-2:])
        print("diag", b, form, describe(rows(out), rows(ref), starts, max(tol, 0)), flush=True)
for b in sys.argv[5:]:
    vlm.set_attention_backend(b)
    q, k, v = rnd(2 * n, 12, 128), rnd(2 * n, 12, 128), rnd(2 * n, 12, 128)  # two pages
    cu = torch.tensor([0, n, 2 * n], dtype=torch.int32, device=device)
    out = vlm.op_attention_varlen(q, k, v, cu, cu, n, n, False, 128 ** -0.5, torch.full_like(q, float("nan")))
    ran = vlm.last_attention_backend()
    ref = F.scaled_dot_product_attention(*(x.view(2, n, 12, 128).transpose(1, 2) for x in (q, k, v)))
    report(b, "vision", ran, out, ref.transpose(1, 2).reshape(2 * n, 12, 128), [0, n])
    q, k, v = rnd(n, 32, 128), rnd(n, 2, 128), rnd(n, 2, 128)
    cu = torch.tensor([0, n], dtype=torch.int32, device=device)
    out = vlm.op_attention_varlen(q, k, v, cu, cu, n, n, True, 128 ** -0.5, torch.full_like(q, float("nan")))
    ran = vlm.last_attention_backend()
    ref = F.scaled_dot_product_attention(*(x.transpose(0, 1) for x in (q, k, v)), is_causal=True,
                                         enable_gqa=True).transpose(0, 1)
    report(b, "prefill", ran, out, ref, [0])
    for new, batch in ((n // 4, 1), (1, 2)):  # a chunk, then decode
        cap = n + new + 8
        kc, vc = rnd(batch, cap, 2, 128), rnd(batch, cap, 2, 128)
        q, kn, vn = rnd(batch, new, 32, 128), rnd(batch, new, 2, 128), rnd(batch, new, 2, 128)
        lens = torch.full((batch,), n, dtype=torch.int32, device=device)
        out = vlm.op_attention_kvcache(q, kc, vc, lens, kn, vn, True, 128 ** -0.5,
                                       out=torch.full_like(q, float("nan")))
        ran = vlm.last_attention_backend()
        used = n + new
        ref = F.scaled_dot_product_attention(q.transpose(1, 2), kc[:, :used].transpose(1, 2),
                                             vc[:, :used].transpose(1, 2), enable_gqa=True,
                                             attn_mask=causal_lower_right(new, used))
        report(b, "chunk" if new > 1 else "decode", ran, out, ref.transpose(1, 2),
               list(range(0, batch * new, new)))
"""
_PROBE_FORMS = ("vision", "prefill", "chunk", "decode")


def _probe_argv(device, tokens, tol):
    """The probe's child command, up to the backends' names."""
    return [sys.executable, "-c", _PROBE, os.path.join(ROOT, "tests", "python"), device,
            str(tokens), str(tol)]


def probe_backends(names, device="cuda", tokens=2520, timeout=60, tol=0.05):
    """{backend: {ok, detail, diag}} for the attention backends `names`, checked in that order in
    one child process on each form (_PROBE) at `tokens` tokens; a backend passes when it ran every
    form itself within `tol` (bf16-level) relative error of SDPA, nothing left unwritten. `diag`:
    for each form it got wrong, where (attention_diag.error_structure). The backend running when
    the child died or hung fails, the later ones are not probed (and fail)."""
    argv = _probe_argv(device, tokens, tol)
    stdout, stderr, rc = run_child([*argv, *names], timeout)
    lines = stdout.splitlines()
    tail = [f"timed out after {timeout} s"] if rc is None else stderr.strip().splitlines()[-1:] or [""]
    fields = [ln.split(" ", 3) for ln in lines]
    by = {b: [f for f in fields if len(f) == 4 and f[0] == b] for b in names}
    diag = {}
    for f in fields:
        if len(f) == 4 and f[0] == "diag" and f[1] in names:
            try:
                diag.setdefault(f[1], {})[f[2]] = json.loads(f[3])
            except ValueError:
                diag.setdefault(f[1], {})[f[2]] = f[3][:300]
    diag = {b: diag.get(b, {}) for b in names}
    out = {}
    for b in names:
        detail = "  ".join(f"{form}: ran {ran} err {e}" for _, form, ran, e in by[b])
        if len(by[b]) < len(_PROBE_FORMS):  # the child died or hung on this backend
            out[b] = dict(ok=False, detail=f"{detail}  died: {tail[0]}".strip()[:400], diag=diag[b])
            break
        ok = all(ran == b and float(e) <= tol for _, _, ran, e in by[b])  # (nan fails)
        out[b] = dict(ok=ok, detail=detail, diag=diag[b])
    for b in names:
        out.setdefault(b, dict(ok=False, detail="not probed (an earlier backend's child died)", diag={}))
    return out


def attention_ops(run, dev, tiny, bf16_tflops, copy_gbps):
    """Our ops vs SDPA on the shapes the model runs. On the CPU (tiny) the ops take the ATen path:
    the step then only proves the script."""
    import torch.nn.functional as F

    from glyph import _vlm as vlm
    rows = {"cuda_kernels": bool(vlm.cuda_kernels_built()), "vision": [], "prefill": [], "decode": []}
    run.results["steps"]["ops"] = rows
    dt = torch.bfloat16 if dev.type == "cuda" else torch.float32
    names = ["flash", "efficient", "cudnn"] if dev.type == "cuda" else ["math"]
    g = torch.Generator(device="cpu").manual_seed(0)

    def rnd(*shape):
        return torch.randn(*shape, generator=g).to(dev, dt)

    def err(a, b):
        return round(((a.float() - b.float()).abs().max() / b.float().abs().max()).item(), 5)

    # Every backend of the ops' dispatcher on each shape (ops/attention.h): what the dispatch
    # table of ops/attention.cpp is filled from. "ours" below is glyph's own kernels.
    if dev.type == "cuda":
        # A backend whose op tests hung in the parity step is not probed again (a hang costs the
        # probe's whole timeout); it fails here with that reason.
        hung = [b for b, r in ((run.results["steps"].get("parity") or {}).get("op_tests") or {}).items()
                if r.startswith("timed out")]
        names = [b for b in ("glyph", "mma", "wgmma") if b not in hung]
        probed = probe_backends(names) if vlm.cuda_kernels_built() else {}
        probed.update({b: dict(ok=False, detail="its op tests hung in the parity step", diag={})
                       for b in hung if b in ("mma", "wgmma")})
    else:  # the CPU's one backend, so that the probe itself is exercised in tiny mode
        # (a long timeout: on a loaded CPU the child's imports alone can take a minute)
        probed = probe_backends(["aten"], device="cpu", tokens=40, timeout=300)
    rows["probe"] = probed
    backends = [b for b, r in probed.items() if r["ok"]] + (["flash"] if dev.type == "cuda" else [])
    rows["dispatch"] = []
    disagree = rows["sdpa_disagree"] = []  # SDPA backends left out of a baseline (_best_sdpa)

    def through_backends(form, keys, fn, ref, starts=None):
        before = vlm.attention_backend()
        got = {}
        try:
            for b in backends:
                vlm.set_attention_backend(b)
                try:
                    out = fn()
                    ran = vlm.last_attention_backend()
                    if ran != b:  # the backend did not take this shape
                        continue
                    got[b] = dict(ms=round(1e3 * timed(dev, fn, **OPS_TIMING), 4), err=err(out, ref))
                    if not got[b]["err"] <= 0.05:  # where it is wrong (attention_diag.py)
                        rows.setdefault("dispatch_diag", []).append(dict(
                            form=form, keys=keys, backend=b, diag=error_structure(
                                out.reshape(-1, *out.shape[-2:]), ref.reshape(-1, *ref.shape[-2:]),
                                starts)))
                except Exception as e:  # a failing backend is reported; the others still run
                    rows.setdefault("dispatch_errors", []).append(f"{form} {keys} {b}: {e}"[:300])
        finally:
            vlm.set_attention_backend(before)
        # Only a backend whose result agrees with SDPA's (bf16-level relative error) may win.
        ok = {b: r for b, r in got.items() if r["err"] <= 0.05}
        best = min(ok, key=lambda b: ok[b]["ms"]) if ok else None
        rows["dispatch"].append(dict(form=form, keys=keys, fastest=best, **{
            f"{b}_ms": r["ms"] for b, r in got.items()}, **{f"{b}_err": r["err"] for b, r in got.items()}))
        return rows["dispatch"][-1]

    # Vision tower: 12 heads x 128, ~2,520 patches a page (Glyph's config), bidirectional per page.
    heads, d, per_page = (4, 64, 40) if tiny else (12, 128, 2520)
    for pages in ([1, 2] if tiny else [1, 8, 32, 64]):
        if run.left() < 20:
            break
        n = pages * per_page
        q, k, v = rnd(n, heads, d), rnd(n, heads, d), rnd(n, heads, d)
        cu = torch.arange(0, n + 1, per_page, dtype=torch.int32, device=dev)
        scale = d ** -0.5
        ours = lambda: vlm.op_attention_varlen(q, k, v, cu, cu, per_page, per_page, False, scale)  # noqa: E731
        t_ours = timed(dev, ours, **OPS_TIMING)
        qh, kh, vh = (x.view(pages, per_page, heads, d).transpose(1, 2) for x in (q, k, v))
        per_page_call = lambda: F.scaled_dot_product_attention(qh, kh, vh, scale=scale)  # noqa: E731
        best = _best_sdpa(dev, per_page_call, names, disagree=disagree, what=f"vision {pages} pages")
        flops = 4 * pages * per_page ** 2 * heads * d
        ref = best[2].transpose(1, 2).reshape(n, heads, d)
        rows["vision"].append(dict(
            pages=pages, tokens=n, ours_ms=round(1e3 * t_ours, 3), sdpa=best[0],
            sdpa_ms=round(1e3 * best[1], 3), speedup=round(best[1] / t_ours, 2),
            ours_TFLOPs=round(flops / t_ours / 1e12, 1),
            of_matrix_rate=round(flops / t_ours / 1e12 / bf16_tflops, 3) if bf16_tflops else None,
            rel_err_vs_sdpa=err(ours(), ref)))
        line = through_backends("vision", per_page, ours, ref, list(range(0, n, per_page)))
        rows["vision"][-1].update(glyph_best(line, best[1], flops=flops, bf16_tflops=bf16_tflops))
        run.save()
        del q, k, v

    # Causal GQA prefill of one sequence: 32 query heads, 2 KV heads, 128.
    hq, hkv, d = (4, 2, 64) if tiny else (32, 2, 128)
    for n in ([128] if tiny else [4096, 16384]):
        if run.left() < 30:
            break
        q, k, v = rnd(n, hq, d), rnd(n, hkv, d), rnd(n, hkv, d)
        cu = torch.tensor([0, n], dtype=torch.int32, device=dev)
        scale = d ** -0.5
        ours = lambda: vlm.op_attention_varlen(q, k, v, cu, cu, n, n, True, scale)  # noqa: E731
        t_ours = timed(dev, ours, **OPS_TIMING)
        qh, kh, vh = q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None]
        sd = lambda: F.scaled_dot_product_attention(qh, kh, vh, is_causal=True, scale=scale,  # noqa: E731
                                                    enable_gqa=True)
        ke, ve = _repeat_kv(kh, hq), _repeat_kv(vh, hq)
        sd_kv = lambda: F.scaled_dot_product_attention(qh, ke, ve, is_causal=True, scale=scale)  # noqa: E731
        best = _best_sdpa(dev, sd, names, sd_kv, disagree=disagree, what=f"prefill {n}")
        del ke, ve
        flops = 2 * n * n * hq * d  # causal: half of 4 N^2 H d
        rows["prefill"].append(dict(
            N=n, ours_ms=round(1e3 * t_ours, 3), sdpa=best[0], sdpa_ms=round(1e3 * best[1], 3),
            speedup=round(best[1] / t_ours, 2), ours_TFLOPs=round(flops / t_ours / 1e12, 1),
            rel_err_vs_sdpa=err(ours(), best[2][0].transpose(0, 1))))
        line = through_backends("prefill", n, ours, best[2][0].transpose(0, 1))
        rows["prefill"][-1].update(glyph_best(line, best[1], flops=flops, bf16_tflops=bf16_tflops))
        run.save()
        del q, k, v

    # A prefill chunk at an offset into a cache (the model's chunked prefill): the chunk's K/V
    # appended on the device, its queries attending bottom-right causally over everything cached.
    # SDPA's comparison gets the cache as it is after the append and a lower-right causal bias.
    from torch.nn.attention.bias import causal_lower_right
    rows["chunk"] = []
    for chunk, ctx in ([(64, 192)] if tiny else [(2048, 8192), (4096, 32768), (4096, 126976)]):
        if run.left() < 30:
            break
        cap = ctx + chunk
        kc, vc = rnd(1, cap, hkv, d), rnd(1, cap, hkv, d)
        q, kn, vn = rnd(1, chunk, hq, d), rnd(1, chunk, hkv, d), rnd(1, chunk, hkv, d)
        lens = torch.full((1,), ctx, dtype=torch.int32, device=dev)
        scale = d ** -0.5
        ours = lambda: vlm.op_attention_kvcache(q, kc, vc, lens, kn, vn, True, scale)  # noqa: E731
        t_ours = timed(dev, ours, **OPS_TIMING)
        got = ours()
        qh = q.transpose(1, 2)
        kh, vh = kc[:, :cap].transpose(1, 2), vc[:, :cap].transpose(1, 2)
        bias = causal_lower_right(chunk, cap)
        sd = lambda: F.scaled_dot_product_attention(qh, kh, vh, attn_mask=bias, scale=scale,  # noqa: E731
                                                    enable_gqa=True)
        ke, ve = _repeat_kv(kh, hq), _repeat_kv(vh, hq)
        sd_kv = lambda: F.scaled_dot_product_attention(qh, ke, ve, attn_mask=bias, scale=scale)  # noqa: E731
        best = _best_sdpa(dev, sd, names, sd_kv, disagree=disagree, what=f"chunk {chunk} at {ctx}")
        del ke, ve
        flops = 4 * chunk * (ctx + chunk / 2) * hq * d
        rows["chunk"].append(dict(
            chunk=chunk, context=ctx, ours_ms=round(1e3 * t_ours, 3), sdpa=best[0] if best else None,
            sdpa_ms=round(1e3 * best[1], 3) if best else None,
            speedup=round(best[1] / t_ours, 2) if best else None,
            ours_TFLOPs=round(flops / t_ours / 1e12, 1),
            rel_err_vs_sdpa=err(got, best[2].transpose(1, 2)) if best else None))
        if best:  # the op appends the same K/V at the same place each call: repeatable
            through_backends("chunk", cap, ours, best[2].transpose(1, 2))
        run.save()
        del kc, vc

    # Split-KV decode: one token per sequence against its cache.
    for ctx in ([256] if tiny else [4096, 32768, 131072]):
        for batch in (1, 16):
            if run.left() < 20:
                break
            cap = ctx + 64
            kc, vc = rnd(batch, cap, hkv, d), rnd(batch, cap, hkv, d)
            q = rnd(batch, 1, hq, d)
            lens = torch.full((batch,), ctx, dtype=torch.int32, device=dev)
            scale = d ** -0.5
            ours = lambda: vlm.op_attention_kvcache(q, kc, vc, lens, causal=True, scale=scale)  # noqa: E731
            t_ours = timed(dev, ours, **OPS_TIMING)
            qh = q.transpose(1, 2)
            kh, vh = kc[:, :ctx].transpose(1, 2), vc[:, :ctx].transpose(1, 2)
            sd = lambda: F.scaled_dot_product_attention(qh, kh, vh, scale=scale, enable_gqa=True)  # noqa: E731
            ke, ve = _repeat_kv(kh, hq), _repeat_kv(vh, hq)
            sd_kv = lambda: F.scaled_dot_product_attention(qh, ke, ve, scale=scale)  # noqa: E731
            best = _best_sdpa(dev, sd, names, sd_kv, disagree=disagree,
                              what=f"decode {ctx} b={batch}")
            del ke, ve
            nbytes = 2 * batch * ctx * hkv * d * kc.element_size()
            rows["decode"].append(dict(
                context=ctx, batch=batch, ours_ms=round(1e3 * t_ours, 4), sdpa=best[0],
                sdpa_ms=round(1e3 * best[1], 4), speedup=round(best[1] / t_ours, 2),
                ours_GBps=round(nbytes / t_ours / 1e9, 1),
                of_copy_bw=round(nbytes / t_ours / 1e9 / copy_gbps, 3) if copy_gbps else None,
                rel_err_vs_sdpa=err(ours(), best[2].transpose(1, 2))))
            line = through_backends(f"decode b={batch}", cap, ours, best[2].transpose(1, 2),
                                    list(range(batch)))
            rows["decode"][-1].update(glyph_best(line, best[1], nbytes=nbytes, copy_gbps=copy_gbps))
            run.save()
            del kc, vc
    return rows


# ---- 1d: compute-sanitizer on glyph's kernels -------------------------------------------------

def find_sanitizer():
    """The path of compute-sanitizer (CUDA's toolkit, else the nvidia-cuda-sanitizer-api wheel's,
    which the tests use), or None."""
    import glob
    import shutil
    wheels = [c for p in sys.path if p for c in sorted(glob.glob(
        os.path.join(p, "nvidia", "cu1*", "bin", "compute-sanitizer")))]
    for c in [shutil.which("compute-sanitizer"), "/usr/local/cuda/bin/compute-sanitizer",
              *sorted(glob.glob("/usr/local/cuda*/compute-sanitizer/compute-sanitizer")),
              *sorted(glob.glob("/opt/nvidia/*/compute-sanitizer")), *wheels]:
        if c and os.access(c, os.X_OK):
            return c
    return None


def sanitizer_options(help_text):
    """The option sets to try, first to last: the print limit and a filter to glyph's kernels
    (their names hold glyph::vlm::ops::cuda) where the tool's --help offers one, then none."""
    flt = (["--kernel-name", "kns=glyph"] if "--kernel-name" in help_text
           else ["--filter", "kernel_substring=glyph"] if "--filter" in help_text else [])
    return [["--print-limit", "20", *flt], []]


def sanitizer_argv(tool, check, options, target):
    return [tool, "--tool", check, "--error-exitcode", "9", *options, *target]


def sanitizer_summary(text):
    """(error count or None when the tool printed no summary, the first report lines): from
    compute-sanitizer's output, whose own lines start with '========='."""
    import re
    # (racecheck ends with its own summary, "N hazards displayed (E errors, W warnings)", and
    # no ERROR SUMMARY: compute-sanitizer's documentation, 2025.3)
    m = (re.search(r"=+ ERROR SUMMARY: (\d+) error", text)
         or re.search(r"=+ RACECHECK SUMMARY: \d+ hazards? displayed \((\d+) errors?", text))
    lines = [ln.strip("= ").strip() for ln in text.splitlines() if ln.startswith("=========")]
    lines = [ln for ln in lines if ln and not ln.startswith(("COMPUTE-SANITIZER", "ERROR SUMMARY",
                                                             "RACECHECK SUMMARY"))]
    return (int(m.group(1)) if m else None), lines[:14]


def sanitize(run, backends, max_s=None, tokens=300):
    """memcheck (out-of-bounds and misaligned accesses), racecheck (shared-memory hazards) and
    synccheck (barrier misuse) on glyph's CUDA backends, each through the probe's four forms at
    `tokens` tokens in a child process, backends in the order given (the failing ones first),
    while the run's budget lasts. The report names the kernel, the access and the thread: what a
    wrong kernel needs, since this is the only machine that runs them. At most `max_s` seconds
    in all. Without the tool (the CPU), says so."""
    tool = find_sanitizer()
    out = {"tool": tool, "runs": []}
    run.results["steps"]["sanitize"] = out  # saved as it goes
    if tool is None:
        return out
    t0 = time.time()
    help_text = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=30).stdout
    option_sets = sanitizer_options(help_text)
    probe = _probe_argv("cuda", tokens, 0.05)
    # Without torch's caching allocator, each tensor is an allocation of its own: an access past
    # the end of one is then outside every allocation, which memcheck reports, instead of inside
    # the next tensor of the same cached segment, which it cannot see.
    env = {**os.environ, "PYTORCH_NO_CUDA_MEMORY_CACHING": "1"}
    for b in backends:
        for check in ("memcheck", "racecheck", "synccheck"):
            left = min(run.left(), (max_s - (time.time() - t0)) if max_s else run.left())
            if left < 25:
                run.results["skipped"].append(f"sanitize {b} {check} (budget)")
                return out
            timeout = min(90, left - 15)
            t = time.time()
            # without the options past --tool if the tool refused them (no summary, at once)
            for f in option_sets:
                cmd = sanitizer_argv(tool, check, f, [*probe, b])
                stdout, stderr, rc = run_child(cmd, timeout, env=env)
                text, rc = stdout + stderr, "timeout" if rc is None else rc
                errors, report = sanitizer_summary(text)
                if errors is not None or rc == "timeout" or time.time() - t > 20:
                    break
            # the probe's own lines: the forms it ran, and their error
            forms = [ln for ln in text.splitlines() if ln.startswith(b + " ")]
            out["runs"].append(dict(backend=b, tool=check, errors=errors, rc=rc, options=f,
                                    seconds=round(time.time() - t, 1), report=report, forms=forms,
                                    tail=None if errors is not None else text[-400:]))
            run.save()
    return out


_NO_LIMIT = 2 ** 63 - 1
_BACKENDS = ("glyph", "mma", "wgmma", "flash", "aten")
_CPP_NAMES = {"vision": "kVision", "prefill": "kPrefill", "chunk": "kChunk", "decode": "kDecode",
              "glyph": "kGlyph", "mma": "kGlyphMma", "wgmma": "kGlyphWgmma", "flash": "kFlash",
              "aten": "kAten"}


def glyph_best(line, sdpa_s, flops=None, nbytes=None, bf16_tflops=None, copy_gbps=None):
    """The fastest of glyph's own backends (glyph, mma, wgmma) on one `dispatch` line, among those
    within its error bound, as best_* fields of the shape's row: what `auto` runs there once the
    line's rule is in the table (the row's own `ours` is the backend in force now). Empty when
    none of them ran or agreed."""
    ok = {b: line[f"{b}_ms"] for b in ("glyph", "mma", "wgmma")
          if f"{b}_ms" in line and line[f"{b}_err"] <= 0.05}
    if not ok:
        return {}
    b = min(ok, key=ok.get)
    t = ok[b] / 1e3
    out = dict(best=b, best_ms=ok[b], best_speedup=round(sdpa_s / t, 2))
    if flops:
        out.update(best_TFLOPs=round(flops / t / 1e12, 1),
                   best_of_matrix_rate=round(flops / t / 1e12 / bf16_tflops, 3) if bf16_tflops else None)
    if nbytes:
        out.update(best_GBps=round(nbytes / t / 1e9, 1),
                   best_of_copy_bw=round(nbytes / t / 1e9 / copy_gbps, 3) if copy_gbps else None)
    return out


def measured_dispatch(rows):
    """(form, max_keys, backend) rules for glyph._vlm.set_attention_dispatch from the `dispatch`
    lines: for each form ("decode b=16" is form decode) and each key count measured, the backend
    with the least time summed over that count's lines (pages, batches), among those that ran on
    every one of them within the error bound; the largest count's rule covers all above it, and
    neighbouring counts with the same winner merge."""
    by = {}
    for r in rows:
        by.setdefault(r["form"].split()[0], {}).setdefault(r["keys"], []).append(r)
    rules = []
    for form, counts in by.items():
        picks = []
        for keys in sorted(counts):
            lines = counts[keys]
            valid = [b for b in _BACKENDS if all(f"{b}_ms" in ln and ln[f"{b}_err"] <= 0.05
                                                   for ln in lines)]
            if valid:
                picks.append((keys, min(valid, key=lambda b: sum(ln[f"{b}_ms"] for ln in lines))))
        for i, (keys, b) in enumerate(picks):
            if i + 1 < len(picks) and picks[i + 1][1] == b:
                continue  # the next count's rule covers this one
            rules.append((form, _NO_LIMIT if i + 1 == len(picks) else keys, b))
    return rules


def dispatch_rows_cpp(rules):
    """The rules as rows of dispatch_table() in ops/attention.cpp, to paste with their citation."""
    return [f"{{AttentionForm::{_CPP_NAMES[f]}, "
            f"{'INT64_MAX' if k == _NO_LIMIT else k}, AttentionBackend::{_CPP_NAMES[b]}}},"
            for f, k, b in rules]


# ---- 1c: the fused page-to-patch path ----------------------------------------------------------

def page_patch_path(run, dev, tiny):
    """Pages (uint8, 3 bytes a pixel) -> patches on the device -> patch embedding, against the CPU
    image processor followed by the upload of its float32 patches and the same GEMM. The patches
    must equal the image processor's rounded to the dtype, bit for bit (else the step fails)."""
    from glyph import _vlm as vlm
    dt_name = "bfloat16" if dev.type == "cuda" else "float32"
    dt = getattr(torch, dt_name)
    # Glyph's default pages (auto-cropped: widths differ) and one at 96 dpi (a different size)
    pages = [np.asarray(p.pixels) for p in glyph.Renderer().render(long_text(30_000)).pages]
    cfg = glyph.Renderer().config
    cfg.dpi = 96.0
    pages += [np.asarray(p.pixels) for p in glyph.Renderer(cfg).render(glyph.sample_text()[:6000]).pages]
    pages = [np.ascontiguousarray(p) for p in pages]
    g = torch.Generator().manual_seed(0)
    d = 32 if tiny else 1536  # GLM-4.1V's vision width
    w = (torch.randn(d, 3, 2, 14, 14, generator=g) * 0.02).to(dev, dt)
    b = (torch.randn(d, generator=g) * 0.02).to(dev, dt)
    pinned = dev.type == "cuda"
    rows = {"device": str(dev), "cuda_kernels_built": bool(vlm.cuda_kernels_built()), "rows": []}
    run.results["steps"]["patches"] = rows
    for n in ([1, 3] if tiny else [1, 8, 32]):
        if run.left() < 15:
            run.results["skipped"].append(f"patches pages={n}")
            break
        imgs = [pages[i % len(pages)] for i in range(n)]
        pixels, sizes = vlm.op_pack_pages(imgs, pinned=pinned)
        ours, grid = vlm.op_page_patches(pixels.to(dev), sizes, dt_name)
        ref, ref_grid = gv.process_images(imgs)
        if not (torch.equal(grid, ref_grid) and torch.equal(ours.cpu(), ref.to(dt))):
            bad = (ours.cpu().float() != ref.to(dt).float()).sum().item()
            raise AssertionError(f"page_patches on {dev} differs from the image processor at {bad} "
                                 f"of {ref.numel()} values ({n} pages)")

        def fused():
            px, sz = vlm.op_pack_pages(imgs, pinned=pinned)
            return vlm.op_page_patch_embed(px.to(dev, non_blocking=True), sz, w, b)[0]

        def unfused():
            pv, _ = gv.process_images(imgs)
            return vlm.op_patch_embed(pv.to(dev, dt), w, b)

        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=dev).view(1, 3, 1, 1)
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=dev).view(1, 3, 1, 1)
        sides = [(gh * 14, gw * 14) for _, gh, gw in grid.tolist()]

        def torch_ops():
            """The unfused path on the device: upload uint8, resize (torch's antialiased bicubic,
            close to but not Pillow's), rescale and normalise, the patch order, then the GEMM."""
            parts = []
            for im, (h, wd) in zip(imgs, sides):
                x = torch.from_numpy(im).to(dev).permute(2, 0, 1)[None].float()
                x = torch.nn.functional.interpolate(x, size=(h, wd), mode="bicubic", antialias=True)
                x = ((x.clamp(0, 255).round() / 255 - mean) / std).to(dt).expand(2, 3, h, wd)
                parts.append(x.reshape(1, 2, 3, h // 28, 2, 14, wd // 28, 2, 14)
                             .permute(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(-1, 3 * 2 * 14 * 14))
            return vlm.op_patch_embed(torch.cat(parts), w, b)

        emb_err = ((fused().float() - unfused().float()).abs().max()
                   / unfused().float().abs().max()).item()
        torch_err = ((torch_ops().float() - unfused().float()).abs().max()
                     / unfused().float().abs().max()).item()
        t_fused = timed(dev, fused)
        t_unfused = timed(dev, unfused)
        t_torch = timed(dev, torch_ops)
        rows["rows"].append(dict(
            pages=n, patches=int(ref.shape[0]), patches_equal=True, embed_rel_err=round(emb_err, 6),
            upload_MB_uint8=round(pixels.numel() / 1e6, 2),
            upload_MB_float32=round(ref.numel() * 4 / 1e6, 2),
            fused_pages_per_s=round(n / t_fused, 2), cpu_pages_per_s=round(n / t_unfused, 2),
            speedup=round(t_unfused / t_fused, 2),
            torch_ops_pages_per_s=round(n / t_torch, 2),
            speedup_vs_torch_ops=round(t_torch / t_fused, 2),
            torch_ops_rel_err=round(torch_err, 4)))
        run.save()
    return rows


# ---- 2: prefill, text vs pages -------------------------------------------------------------

def train_bpe(text, vocab):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(GLM4_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer)
    return tok


def long_text(min_chars):
    base = glyph.sample_text()
    parts, n, i = [], 0, 0
    while n < min_chars:  # numbered copies, so pages differ (the feature cache is off anyway)
        parts.append(f"[{i}] " + base)
        n += len(parts[-1])
        i += 1
    return "\n".join(parts)


def page_prompt(cfg, tokens_per_page, question):
    ids = []
    for n in tokens_per_page:
        ids += [cfg["image_start_token_id"]] + [cfg["image_token_id"]] * n + [cfg["image_end_token_id"]]
    return ids + question


def predict_row_seconds(done, n):
    """Seconds a prefill row at `n` tokens should take, from the rows done [(tokens, seconds)]:
    a row is linear work (the layers' matrices, rendering) plus quadratic (attention), so two
    rows or more fit a n + b n^2 (a, b >= 0, least squares) and one row is scaled by
    (n / tokens)^1.25 (at 4K the layers' matrices are ~93% of the full model's FLOPs, attention
    the rest); 0 with none."""
    if not done:
        return 0.0
    if len(done) == 1:
        (m, t), = done
        return t * (n / m) ** 1.25
    x = np.array([[m, m * m] for m, _ in done], dtype=np.float64)
    y = np.array([t for _, t in done], dtype=np.float64)
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    if (coef < 0).any():  # then one term alone, whichever fits better
        best = None
        for i in (0, 1):
            c = max(0.0, float(x[:, i] @ y / (x[:, i] @ x[:, i])))
            r = float(np.sum((y - c * x[:, i]) ** 2))
            if best is None or r < best[0]:
                best = (r, i, c)
        coef = np.zeros(2)
        coef[best[1]] = best[2]
    return float(coef[0] * n + coef[1] * n * n)


def prefill(run, dev, model, lengths, bpe_vocab):
    cfg = model.config
    text = long_text(max(lengths) * 6)
    tok = train_bpe(text[:2_000_000], bpe_vocab)
    enc = tok.encode(text)
    renderer = glyph.Renderer()
    question = enc.ids[:24]
    # Untimed, once: the first calls pay for cuBLAS's and the kernels' first use, which would
    # otherwise land on the first row's text side (and inflate its speedup).
    warm = renderer.render(text[:2000]).pages[:1]
    wpv, wgrid = model.process_images(warm)
    model.generate(enc.ids[:256] + question, max_new_tokens=1, stop_ids=[-1])
    model.generate(page_prompt(cfg, [int(r.prod()) // 4 for r in wgrid], question),
                   pixel_values=wpv, grid_thw=wgrid, max_new_tokens=1, stop_ids=[-1])

    def one_row(n):
        row_t0 = time.perf_counter()
        ids = enc.ids[:n]
        chunk = text[: enc.offsets[n - 1][1]]
        t = time.perf_counter()
        pages = renderer.render(chunk).pages
        render_s = time.perf_counter() - t
        t = time.perf_counter()
        pv, grid = model.process_images(pages)
        process_s = time.perf_counter() - t
        per_page = [int(r.prod()) // 4 for r in grid]
        visual = sum(per_page)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        r_text = model.generate(ids + question, max_new_tokens=1, stop_ids=[-1])
        peak_text = torch.cuda.max_memory_allocated() / 1e9 if dev.type == "cuda" else None
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        p_ids = page_prompt(cfg, per_page, question)
        r_pages = model.generate(p_ids, pixel_values=pv, grid_thw=grid, max_new_tokens=1, stop_ids=[-1])
        peak_pages = torch.cuda.max_memory_allocated() / 1e9 if dev.type == "cuda" else None
        # The paper's 3.3x: the same N as pages holding N / 3.3 visual tokens (the pages above,
        # repeated or cut to that count).
        want = max(1, round(n / PAPER_RATIO))
        per = per_page[0]
        k = max(1, math.ceil(want / per))
        reps = [i % len(per_page) for i in range(k)]
        pv33 = torch.cat([pv[sum(int(grid[j].prod()) for j in range(i)):
                             sum(int(grid[j].prod()) for j in range(i + 1))] for i in reps])
        grid33 = grid[reps]
        r33 = model.generate(page_prompt(cfg, [per_page[i] for i in reps], question),
                             pixel_values=pv33, grid_thw=grid33, max_new_tokens=1, stop_ids=[-1])
        row = dict(N=n, pages=len(pages), visual_tokens=visual, ratio=round(n / visual, 2),
                   render_s=round(render_s, 3), process_images_s=round(process_s, 3),
                   text_prefill_s=round(r_text.prefill_seconds, 4),
                   pages_prefill_s=round(r_pages.prefill_seconds, 4),
                   speedup=round(r_text.prefill_seconds / r_pages.prefill_seconds, 2),
                   pages33_visual_tokens=sum(per_page[i] for i in reps),
                   pages33_prefill_s=round(r33.prefill_seconds, 4),
                   speedup33=round(r_text.prefill_seconds / r33.prefill_seconds, 2),
                   paper=PAPER_PREFILL.get(n), peak_text_GB=peak_text, peak_pages_GB=peak_pages,
                   row_s=round(time.perf_counter() - row_t0, 2))
        return row

    rows = []
    for n in lengths:
        need = max(30, predict_row_seconds([(r["N"], r["row_s"]) for r in rows], n) + 10)
        if run.left() < need:
            run.results["skipped"].append(f"prefill N={n} (needs ~{need:.0f} s, {run.left():.0f} left)")
            continue  # (a shorter length after it may still fit)
        try:  # (one length that fails, out of memory say, is reported; the others still run)
            row = one_row(n)
        except Exception as e:
            run.results["errors"][f"prefill N={n}"] = f"{type(e).__name__}: {e}"[:1000]
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            run.save()
            continue
        rows.append(row)
        run.results["steps"]["prefill"] = rows
        run.save()
    return rows


# ---- 3: decode -----------------------------------------------------------------------------

def decode_read_bytes(t, wsize):
    """(weight bytes, KV-cache bytes a token) that a decode step must read, from the text config
    `t` and the bytes of an element: the decoder layers' matrices and lm_head (of the embedding
    one row a sequence, nothing; norms and biases are left out, well under 0.1%)."""
    h, inter, layers = t["hidden_size"], t["intermediate_size"], t["num_hidden_layers"]
    d = t.get("head_dim") or h // t["num_attention_heads"]
    q, kv = t["num_attention_heads"] * d, t["num_key_value_heads"] * d
    per_layer = h * (q + 2 * kv) + q * h + 2 * inter * h + inter * h  # qkv, o, gate_up, down
    return (layers * per_layer + t["vocab_size"] * h) * wsize, layers * 2 * kv * wsize


_OOM = (MemoryError, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError))


def _decode_fitting(run, dev, model, kind, cached, batch, steps):
    """(DecodeBenchmark, batch) of benchmark_decode at `batch`, or at the next smaller batch
    (3/4 of it) where that one runs out of device memory (the estimate of what fits leaves 4 GB,
    which the allocator's fragmentation can use up); (None, 1) where even batch 1 does not fit.
    Each batch that did not fit is listed with the skipped."""
    while True:
        try:
            return model.benchmark_decode(batch, cached, steps=steps), batch
        except _OOM:
            run.results["skipped"].append(f"decode {kind} ctx={cached} batch={batch} (out of memory)")
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            if batch == 1:
                return None, 1
            batch = max(1, batch * 3 // 4)


def decode(run, dev, model, contexts, ratio, copy_gbps, tiny):
    wsize = 2 if "BFloat16" in model.dtype or "Half" in model.dtype else 4
    weight_bytes, kv_per_token = decode_read_bytes(model.config["text_config"], wsize)
    rows = []
    for ctx in contexts:
        for kind, c in (("text", ctx), ("pages", max(1, round(ctx / ratio)))):
            if dev.type == "cuda":
                # What the device has free plus what torch's caching allocator holds unused (the
                # last run's caches: the same allocator serves glyph's LibTorch), less 4 GB
                torch.cuda.empty_cache()
                free = (torch.cuda.mem_get_info()[0] + torch.cuda.memory_reserved()
                        - torch.cuda.memory_allocated() - (4 << 30))
                biggest = max(1, min(64, int(free // (kv_per_token * (c + 16)))))
            else:
                biggest = 4
            # batch 1 and the largest that fits; at the first context also 4 and 16 (issue 11's
            # batched-generation throughput)
            extra = {4, 16} if ctx == contexts[0] and not tiny else set()
            for b in sorted({1, biggest} | {x for x in extra if x <= biggest}):
                if run.left() < 20:
                    run.results["skipped"].append(f"decode {kind} ctx={c} batch={b}")
                    continue
                bench, b = _decode_fitting(run, dev, model, kind, c, b, 4 if tiny else 16)
                if bench is None:
                    continue
                s = bench.step_seconds
                # the bytes a step must read at the rate the copy moved bytes (its reads and
                # writes counted, as the ops step's fractions of it are): HBM's rate is the bytes
                # it moves, whichever way
                floor = (weight_bytes + b * c * kv_per_token) / (copy_gbps * 1e9)
                row = dict(context=ctx, kind=kind, cached=c, batch=b, kv_bytes_per_token=kv_per_token,
                           step_ms=round(1e3 * s, 3), tokens_per_s=round(b / s, 1),
                           floor_ms=round(1e3 * floor, 3), over_floor=round(s / floor, 2),
                           cuda_graph=bench.cuda_graph)
                if ctx == contexts[0]:  # what the CUDA graph saves: the same step run eagerly
                    model.set_runtime_options(cuda_graphs=False)
                    try:
                        e = model.benchmark_decode(b, c, steps=4 if tiny else 16).step_seconds
                        row.update(eager_step_ms=round(1e3 * e, 3), graph_speedup=round(e / s, 2))
                    except _OOM:
                        run.results["skipped"].append(f"decode eager ctx={c} batch={b} (out of memory)")
                    finally:
                        model.set_runtime_options(cuda_graphs=True)
                rows.append(row)
                run.results["steps"]["decode"] = rows
                run.save()
    return rows


# ---- 4 and 5: transformers on the same weights; the loader ------------------------------------

def drop_from_page_cache(folder):
    """Asks the kernel to drop a folder's files from the page cache (fsync, then
    POSIX_FADV_DONTNEED, per file: no machine setting touched), so that a load reads the disk;
    whether every call succeeded. A sandbox's kernel may take the request and keep the pages
    (gVisor's, whose release reads 4.4.0: the loader row records it), and the load's GB/s may
    then be the page cache's."""
    ok = hasattr(os, "posix_fadvise")
    for name in sorted(os.listdir(folder)):
        f = os.path.join(folder, name)
        if not os.path.isfile(f):
            continue
        try:
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        except OSError:
            ok = False
    return ok


def reset_peak_rss():
    """Resets this process's peak resident memory (VmHWM; Linux's /proc/self/clear_refs "5"), so
    that peak_rss_gb() is the peak from here on; False where the kernel does not offer it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return peak_rss_gb() is not None
    except OSError:
        return False


def peak_rss_gb():
    try:
        with open("/proc/self/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return None


def versus_transformers(run, dev, cfg_hf, lengths, tmp, tiny):
    from transformers import Glm4vForConditionalGeneration

    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # built in bf16 (not float32 and then cast: 62 GB)
    try:
        with torch.device(dev):
            hf = Glm4vForConditionalGeneration(cfg_hf).to(torch.bfloat16).eval()
    finally:
        torch.set_default_dtype(default)
    path = os.path.join(tmp, "full")
    t = time.perf_counter()
    hf.save_pretrained(path, max_shard_size="5GB")
    save_s = time.perf_counter() - t
    t = time.perf_counter()
    dropped = drop_from_page_cache(path)  # so the loader reads the disk, not what save wrote
    drop_s = time.perf_counter() - t
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    hwm_reset = reset_peak_rss()  # (ru_maxrss would keep save_pretrained's peak)
    g = gv.Glm4v.from_pretrained(path, device=str(dev), feature_cache_bytes=0)
    info = g.load_info
    loader = dict(save_s=round(save_s, 1), load_s=round(info["seconds"], 2),
                  GBps=round(info["gb_per_second"], 2), weights_GB=round(info["bytes"] / 1e9, 2),
                  weights_bytes=int(info["bytes"]), page_cache_drop_requested=dropped,
                  drop_s=round(drop_s, 1), kernel=os.uname().release,
                  peak_host_GB=round(peak_rss_gb() if hwm_reset else
                                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
                  peak_is_the_loaders=hwm_reset, host_GB_before=round(rss0, 2))
    run.results["steps"]["loader"] = loader
    run.save()
    rows = []
    vocab = cfg_hf.text_config.vocab_size
    for n in lengths:
        if run.left() < 40:
            run.results["skipped"].append(f"transformers N={n}")
            break
        ids = torch.randint(0, vocab - 1000, (1, n), device=dev)
        with torch.no_grad():
            hf_pre = timed(dev, lambda: hf(input_ids=ids, logits_to_keep=1), repeat=2)
            steps = 4 if tiny else 32

            def gen(k):
                return hf.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                   max_new_tokens=k, min_new_tokens=k, do_sample=False,
                                   pad_token_id=0)

            hf_dec = (timed(dev, lambda: gen(steps + 1), repeat=1)
                      - timed(dev, lambda: gen(1), repeat=1)) / steps
        r = min((g.generate(ids[0].tolist(), max_new_tokens=steps + 1, stop_ids=[-1])
                 for _ in range(2)), key=lambda r: r.prefill_seconds)
        if len(r.tokens) != steps + 1:  # (a config that cut the budget would time no decode)
            raise AssertionError(f"glyphcpp generated {len(r.tokens)} tokens at N={n}, not {steps + 1}")
        # A decode step as transformers' is timed, without the one-off costs: generate's
        # decode_seconds holds the eager warm-up step and the CUDA graph's capture (kept as
        # glyph_generate_decode_ms); benchmark_decode times the steady step at this context.
        ours = g.benchmark_decode(1, n, steps=steps)
        ours_dec = ours.step_seconds
        rows.append(dict(N=n, hf_prefill_s=round(hf_pre, 4), glyph_prefill_s=round(r.prefill_seconds, 4),
                         prefill_speedup=round(hf_pre / r.prefill_seconds, 2),
                         hf_decode_ms=round(1e3 * hf_dec, 3), glyph_decode_ms=round(1e3 * ours_dec, 3),
                         glyph_generate_decode_ms=round(1e3 * r.decode_seconds / steps, 3),
                         glyph_decode_cuda_graph=ours.cuda_graph,
                         decode_speedup=round(hf_dec / ours_dec, 2)))
        run.results["steps"]["transformers"] = rows
        run.save()
    return rows


def targets(res):
    """Issue 10's and 11's targets, each against what this run measured: dicts of `target`,
    `measured` (words and numbers) and `met` (True, False, or None where the run did not measure
    it: a skipped step, or a size the tiny mode does not run)."""
    s = res["steps"]
    ops, rows = s.get("ops") or {}, []

    def add(target, measured, met):
        rows.append(dict(target=target, measured=measured, met=met))

    def pick(items, **kw):
        return [r for r in items or [] if all(r.get(k) == v for k, v in kw.items())]

    p = s.get("parity") or {}
    add("parity with transformers (fp32 < 1e-4, bf16 within 2x its own, tokens, op tests)",
        f"fp32 {p['fp32_rel_err']:.2e}, bf16 {p['bf16_rel_err']:.2e} vs {p['hf_bf16_rel_err']:.2e}"
        if p else "-", p.get("ok") if p else None)
    # The kernels' targets judge the fastest of glyph's own backends on each shape (glyph_best:
    # what `auto` runs once the dispatch lines are in the table), named; else the row's own.
    def ours(r, key):
        best = {"speedup": "best_speedup", "of_matrix_rate": "best_of_matrix_rate",
                "ours_GBps": "best_GBps", "of_copy_bw": "best_of_copy_bw"}[key]
        return r[best] if "best" in r else r[key]

    def who(r):
        return r.get("best", "auto")

    v32 = pick(ops.get("vision"), pages=32)
    add("packed vision attention >= 1.3x the best SDPA at 32 pages",
        f"x{ours(v32[0], 'speedup')} ({who(v32[0])}) vs {v32[0]['sdpa']}, "
        f"{ours(v32[0], 'of_matrix_rate')} of the bf16 rate" if v32 else "-",
        ours(v32[0], "speedup") >= 1.3 if v32 else None)
    # prefill: at least the baseline, or the dispatcher sends that form to flash (FA2) there
    disp = {(r["form"], r["keys"]): r.get("fastest") for r in ops.get("dispatch") or []}
    pre = ops.get("prefill") or []
    ok_pre = [ours(r, "speedup") >= 1.0 or disp.get(("prefill", r["N"])) == "flash" for r in pre]
    add("causal GQA prefill >= the best SDPA (or dispatched to flash)",
        ", ".join(f"N={r['N']} x{ours(r, 'speedup')} ({who(r)}; fastest "
                  f"{disp.get(('prefill', r['N']))})" for r in pre) or "-",
        all(ok_pre) if pre else None)
    dec = ops.get("decode") or []
    add("split-KV decode >= the best SDPA at every shape",
        ", ".join(f"{r['context']}/b{r['batch']} x{ours(r, 'speedup')} ({who(r)})" for r in dec) or "-",
        all(ours(r, "speedup") >= 1.0 for r in dec) if dec else None)
    d128 = pick(dec, context=131072, batch=1)
    bw = ours(d128[0], "of_copy_bw") if d128 else None
    add("split-KV decode >= 70% of the copy bandwidth at 128K, batch 1",
        f"{ours(d128[0], 'ours_GBps')} GB/s ({who(d128[0])}), {bw} of copy" if d128 else "-",
        bw >= 0.7 if bw is not None else None)
    pt = [r for r in (s.get("patches") or {}).get("rows", [])]
    add("page-to-patch path >= 3x the unfused GPU path",
        ", ".join(f"{r['pages']} pages x{r['speedup_vs_torch_ops']}" for r in pt) or "-",
        all(r["speedup_vs_torch_ops"] >= 3 for r in pt) if pt else None)
    for n, want in PAPER_PREFILL.items():
        r = pick(s.get("prefill"), N=n)
        add(f"prefill pages over text >= {want}x at {n // 1024}K text tokens (the paper's)",
            f"x{r[0]['speedup']} at ratio {r[0]['ratio']} (x{r[0]['speedup33']} at 3.3x)" if r else "-",
            r[0]["speedup"] >= want if r else None)
    dk = [r for r in s.get("decode") or [] if r["context"] == 131072]
    big = {k: max((r for r in dk if r["kind"] == k), key=lambda r: r["batch"], default=None)
           for k in ("text", "pages")}
    pre_rows = s.get("prefill") or []
    ratio = sum(r["ratio"] for r in pre_rows) / len(pre_rows) if pre_rows else None
    if big["text"] and big["pages"] and ratio:
        tp = big["pages"]["tokens_per_s"] / big["text"]["tokens_per_s"]
        add("decode at 128K, largest batch: pages over text within 10% of the compression ratio",
            f"x{tp:.2f} (batch {big['pages']['batch']} vs {big['text']['batch']}), ratio {ratio:.2f}",
            tp >= 0.9 * ratio)
    else:
        add("decode at 128K, largest batch: pages over text within 10% of the compression ratio", "-", None)
    b1 = [r for r in s.get("decode") or [] if r["batch"] == 1]
    add("batch-1 decode within 1.3x of its floor",
        ", ".join(f"{r['context']} {r['kind']} x{r['over_floor']}" for r in b1) or "-",
        all(r["over_floor"] <= 1.3 for r in b1) if b1 else None)
    tr = s.get("transformers") or []
    add("prefill at least transformers' at every length",
        ", ".join(f"N={r['N']} x{r['prefill_speedup']}" for r in tr) or "-",
        all(r["prefill_speedup"] >= 1.0 for r in tr) if tr else None)
    add("batch-1 decode at least 1.5x transformers'",
        ", ".join(f"N={r['N']} x{r['decode_speedup']}" for r in tr) or "-",
        all(r["decode_speedup"] >= 1.5 for r in tr) if tr else None)
    r128 = pick(s.get("prefill"), N=131072)
    ld = s.get("loader") or {}
    if r128 and r128[0].get("peak_text_GB") and ld.get("weights_GB"):
        t = (s.get("decode") or [{}])[0]
        kv = 131072 * t.get("kv_bytes_per_token", 0) / 1e9 if t.get("kv_bytes_per_token") else None
        bound = ld["weights_GB"] + (kv or 0) + 4
        add("peak memory at 128K text within weights + KV cache + 4 GB",
            f"{r128[0]['peak_text_GB']:.1f} GB vs {bound:.1f} GB", r128[0]["peak_text_GB"] <= bound
            if kv else None)
    else:
        add("peak memory at 128K text within weights + KV cache + 4 GB", "-", None)
    if (s.get("device") or {}).get("tiny", True):  # the targets are the GPU's, at full size
        for r in rows[1:]:
            r["met"] = None
            r["measured"] = "(tiny shapes) " + r["measured"] if r["measured"] != "-" else "-"
    return rows


def table(res):
    lines = ["", "== glyphcpp GPU check =="]
    s = res["steps"]
    d = s.get("device", {})
    lines.append(f"device {d.get('card', d.get('device'))}  driver {d.get('driver')}  torch {d.get('torch')}"
                 f"  commit {d.get('commit')}  copy {d.get('copy_GBps')} GB/s  bf16 {d.get('bf16_TFLOPs')} TFLOP/s")
    if "parity" in s and s["parity"]:
        p = s["parity"]
        lines.append(f"parity ok={p['ok']}  fp32 {p['fp32_rel_err']:.2e}  bf16 {p['bf16_rel_err']:.2e}"
                     f" (transformers bf16 {p['hf_bf16_rel_err']:.2e})  greedy equal {p['greedy_equal']}"
                     f"  graph used {p.get('graph_used')} equal {p.get('graph_tokens_equal')}"
                     f"  (d=64, {p.get('graph64_backend')}: used {p.get('graph64_used')}"
                     f" equal {p.get('graph64_tokens_equal')})"
                     f"  ops {p.get('op_tests', '-')}")
        for t in p.get("op_tests_failed") or []:
            lines.append(f"op test FAILED {t}")
    ops = s.get("ops") or {}
    if ops:
        lines.append(f"attention kernels built: {ops.get('cuda_kernels')}")
    for r in ops.get("vision", []):
        lines.append(f"op vision pages={r['pages']:>3}  ours {r['ours_ms']} ms  {r['sdpa']} {r['sdpa_ms']} ms"
                     f"  x{r['speedup']}  {r['ours_TFLOPs']} TFLOP/s ({r['of_matrix_rate']} of bf16)  err {r['rel_err_vs_sdpa']}"
                     + (f"  best {r['best']} {r['best_ms']} ms x{r['best_speedup']} {r['best_TFLOPs']} TFLOP/s"
                        if "best" in r else ""))
    for r in ops.get("prefill", []):
        lines.append(f"op prefill N={r['N']:>6}  ours {r['ours_ms']} ms  {r['sdpa']} {r['sdpa_ms']} ms"
                     f"  x{r['speedup']}  {r['ours_TFLOPs']} TFLOP/s  err {r['rel_err_vs_sdpa']}"
                     + (f"  best {r['best']} {r['best_ms']} ms x{r['best_speedup']} {r['best_TFLOPs']} TFLOP/s"
                        if "best" in r else ""))
    for r in ops.get("chunk", []):
        lines.append(f"op chunk {r['chunk']:>5} at {r['context']:>6}  ours {r['ours_ms']} ms  {r['sdpa']} {r['sdpa_ms']} ms"
                     f"  x{r['speedup']}  {r['ours_TFLOPs']} TFLOP/s  err {r['rel_err_vs_sdpa']}")
    for r in ops.get("decode", []):
        lines.append(f"op decode ctx={r['context']:>6} b={r['batch']:>2}  ours {r['ours_ms']} ms  {r['sdpa']} {r['sdpa_ms']} ms"
                     f"  x{r['speedup']}  {r['ours_GBps']} GB/s ({r['of_copy_bw']} of copy)  err {r['rel_err_vs_sdpa']}"
                     + (f"  best {r['best']} {r['best_ms']} ms x{r['best_speedup']} {r['best_GBps']} GB/s"
                        if "best" in r else ""))
    for r in ops.get("dispatch", []):
        times = "  ".join(f"{b} {r[f'{b}_ms']} ms (err {r[f'{b}_err']})"
                          for b in _BACKENDS if f"{b}_ms" in r)
        lines.append(f"dispatch {r['form']:<11} keys {r['keys']:>6}  {times}  -> {r['fastest']}")
    for b, r in (ops.get("probe") or {}).items():
        lines.append(f"probe {b:<6} {'ok' if r['ok'] else 'FAILED'}  {r['detail']}")
        for form, d in (r.get("diag") or {}).items():  # where it was wrong (attention_diag.py)
            lines.append(f"probe {b:<6} {form} wrong at {json.dumps(d, separators=(',', ':'))[:700]}")
    rules = res.get("dispatch_table") or []
    if rules:
        lines.append("dispatch table measured here (the model steps ran with it; rows for "
                     "dispatch_table() in ops/attention.cpp):")
        lines.extend(f"  {row}" for row in dispatch_rows_cpp(rules))
    for e in ops.get("dispatch_errors", []):
        lines.append(f"dispatch error: {e}")
    for e in ops.get("sdpa_disagree", []):
        lines.append(f"sdpa baseline left out: {e}")
    for r in ops.get("dispatch_diag", []):
        lines.append(f"dispatch {r['form']} keys {r['keys']} {r['backend']} wrong at "
                     f"{json.dumps(r['diag'], separators=(',', ':'))[:700]}")
    san = s.get("sanitize") or {}
    if san and not san.get("tool"):
        lines.append("sanitize: compute-sanitizer not found")
    for r in san.get("runs", []):
        lines.append(f"sanitize {r['backend']:<6} {r['tool']:<9} errors {r['errors']} ({r['seconds']} s)"
                     + "".join(f"\n    {ln}" for ln in r["report"][:6]))
    pt = s.get("patches") or {}
    for r in pt.get("rows", []):
        lines.append(f"page->patch pages={r['pages']:>3}  fused {r['fused_pages_per_s']} pages/s  cpu+copy "
                     f"{r['cpu_pages_per_s']} pages/s  x{r['speedup']}  upload {r['upload_MB_uint8']} MB "
                     f"vs {r['upload_MB_float32']} MB  patches equal {r['patches_equal']}  embed err {r['embed_rel_err']}"
                     f"  torch ops {r['torch_ops_pages_per_s']} pages/s x{r['speedup_vs_torch_ops']}")
    for r in s.get("prefill") or []:
        lines.append(f"prefill N={r['N']:>6}  pages {r['pages']:>3}  ratio {r['ratio']:>5}  text {r['text_prefill_s']:.3f}s"
                     f"  pages {r['pages_prefill_s']:.3f}s  x{r['speedup']}  (at 3.3x: x{r['speedup33']})"
                     f"  paper x{r['paper']}")
    for r in s.get("decode") or []:
        lines.append(f"decode ctx={r['context']:>6} {r['kind']:<5} cached {r['cached']:>6} batch {r['batch']:>3}"
                     f"  {r['step_ms']:.2f} ms/step  {r['tokens_per_s']} tok/s  floor {r['floor_ms']:.2f} ms"
                     f"  x{r['over_floor']} of floor"
                     + ("  graph" if r.get("cuda_graph") else "  eager")
                     + (f"  eager {r['eager_step_ms']:.2f} ms (graph x{r['graph_speedup']})"
                        if "eager_step_ms" in r else ""))
    for r in s.get("transformers") or []:
        lines.append(f"vs transformers N={r['N']:>6}  prefill x{r['prefill_speedup']}  decode x{r['decode_speedup']}")
    if s.get("loader"):
        lines.append(f"loader {s['loader']}")
    for k, v in res["errors"].items():
        lines.append(f"ERROR in {k}: {v.splitlines()[0]}")
    for k in res["skipped"]:
        lines.append(f"skipped: {k}")
    lines.extend(targets_lines(res))
    return "\n".join(lines)


def targets_lines(res):
    marks = {True: "met", False: "NOT MET", None: "unmeasured"}
    return ["targets (issues 10 and 11):"] + [
        f"  {marks[t['met']]:<10} {t['target']}: {t['measured']}" for t in targets(res)]


# GLM-4.1V-9B's rotary settings (its config.json): half of each head rotates, in sections of 8,
# 12 and 12 frequencies (temporal, height, width). transformers 5's Glm4vTextConfig() leaves them
# out, and its rotary then takes all of head_dim 128, which its own mrope split refuses.
GLM41V_ROPE = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
               "mrope_section": [8, 12, 12]}


def full_size_config(text=None, vision=None):
    """The full-size models' config (both sides): transformers' Glm4vConfig defaults (GLM-4.1V-9B's
    shapes) with its rotary settings and 262,144 positions (the default 32,768 refuses a 32K
    prompt with its question); `text` / `vision` override keys (tests shrink it)."""
    from transformers import Glm4vConfig

    return Glm4vConfig(text_config={"max_position_embeddings": 262144,
                                    "rope_parameters": dict(GLM41V_ROPE), **(text or {})},
                       vision_config=dict(vision or {}))


def cuda_context_ok(run, dev):
    """Whether the device still works after the in-process steps (a kernel that faulted at a
    shape the probe did not run leaves the CUDA context unusable): a synchronisation and a small
    operation; the error, where it failed, is reported."""
    if dev.type != "cuda":
        return True
    try:
        torch.cuda.synchronize()
        (torch.ones(16, device=dev) * 2).sum().item()
        return True
    except Exception as e:  # (torch's AcceleratorError, RuntimeError)
        run.results["errors"]["cuda_context"] = f"{type(e).__name__}: {e}"[:1000]
        run.save()
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny shapes (CPU, CI)")
    ap.add_argument("--out", default=os.environ.get("OUT", os.path.join(ROOT, "build", "gpu_check")))
    ap.add_argument("--budget", type=float, default=None, help="seconds for all steps")
    ap.add_argument("--device", default=None)
    ap.add_argument("--rehearse", action="store_true",
                    help="tiny shapes, and the CUDA step's op-test children too, with the CPU target "
                         "(scripts/gpu_rehearse.sh: the device run rehearsed without a GPU)")
    a = ap.parse_args(argv)
    a.tiny = a.tiny or a.rehearse
    dev = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type != "cuda" and not a.tiny:  # (full size on a CPU: hours, and no answer to anything)
        print("[gpu_check] no CUDA device here: full-size steps need one (--tiny runs them on the "
              "CPU on tiny shapes)", file=sys.stderr)
        return 2
    run = Run(a.out, a.budget or (300 if a.tiny else 360))
    tiny = a.tiny
    lengths = [256, 512] if tiny else [4096, 32768, 131072, 16384, 65536]
    with tempfile.TemporaryDirectory() as tmp:
        info = run.step("device", 5, lambda: device_info(dev, tiny))
        run.step("parity", 20, lambda: parity(dev, tmp, run_op_tests=dev.type == "cuda" or a.rehearse,
                                              rehearse=a.rehearse, run=run))
        run.step("ops", 30, lambda: attention_ops(run, dev, tiny, (info or {}).get("bf16_TFLOPs"),
                                                  (info or {}).get("copy_GBps")))
        # The later steps run with the dispatch table the ops step measured on this device (what
        # `auto` does once those rows are in ops/attention.cpp); the table is in the output.
        rules = measured_dispatch(((run.results["steps"].get("ops") or {}).get("dispatch")) or [])
        if rules:
            from glyph import _vlm
            _vlm.set_attention_dispatch(rules)
            run.results["dispatch_table"] = rules
            run.save()
        # compute-sanitizer at once on a backend the probe failed (what to fix is the next
        # session's first question), else last, as the budget allows
        probe = (run.results["steps"].get("ops") or {}).get("probe") or {}
        glyphs = [b for b in ("glyph", "mma", "wgmma") if b in probe]
        failing = [b for b in glyphs if not probe[b]["ok"]]
        if failing:  # (at most 100 s here: the model steps come next)
            run.step("sanitize", 30, lambda: sanitize(run, failing, max_s=100))
        if not cuda_context_ok(run, dev):  # in-process timings faulted: only children may run
            run.results["skipped"].append("patches, prefill, decode, transformers, loader "
                                          "(the CUDA context failed after the ops step)")
            if not failing and glyphs:
                run.step("sanitize", 30, lambda: sanitize(run, glyphs[::-1]))
            print(table(run.results), flush=True)
            return 1
        run.step("patches", 20, lambda: page_patch_path(run, dev, tiny))
        if tiny:
            cfg = vlm_tiny.tiny_config(vocab=2048, layers=2)
        else:
            cfg = full_size_config()
        # (in a step: an out-of-memory or CUDA error here is reported, and the table still prints)
        made = {}

        def make_model():
            t = time.perf_counter()
            made["model"] = gv.Glm4v.random(cfg.to_dict(), device=str(dev),
                                            dtype="float32" if tiny else "bfloat16",
                                            feature_cache_bytes=0)
            return dict(random_init_s=round(time.perf_counter() - t, 2), dtype=made["model"].dtype)

        run.step("model", 5, make_model)
        model = made.pop("model", None)
        if model is not None:
            run.step("prefill", 60, lambda: prefill(run, dev, model, lengths,
                                                    bpe_vocab=1000 if tiny else 32000))
            # the compression ratio the rows measured (those done, where the step was cut off)
            rows = run.results["steps"].get("prefill") or []
            ratio = (sum(r["ratio"] for r in rows) / len(rows)) if rows else PAPER_RATIO
            copy = (info or {}).get("copy_GBps") or 1.0
            run.step("decode", 40, lambda: decode(run, dev, model, [lengths[0], lengths[2] if not tiny else lengths[1]],
                                                  ratio, copy, tiny))
            del model
        else:
            run.results["skipped"].append("prefill, decode (no model)")
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        run.step("transformers", 90, lambda: versus_transformers(run, dev, cfg, lengths[:2], tmp, tiny))
        if not failing:
            run.step("sanitize", 30, lambda: sanitize(run, glyphs[::-1]))  # the newest kernel first
    print(table(run.results), flush=True)
    ok = not run.results["errors"] and (run.results["steps"].get("parity") or {}).get("ok", False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
