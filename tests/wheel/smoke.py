"""Smoke test of an installed glyphcpp (a wheel in a fresh virtual environment).

scripts/check_wheel_isolated.sh runs it in a bare Debian root without a network; CI runs it in a
fresh venv (scripts/test.sh). It must be run by the venv's python, from outside the source tree:

    python smoke.py [--cli VENV/bin/glyph --text FILE --out DIR] [--expect-no-cjk-font]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

ap = argparse.ArgumentParser()
ap.add_argument("--cli", help="the installed glyph command, to run `glyph render` with")
ap.add_argument("--text", help="a text file for `glyph render`")
ap.add_argument("--out", default=None, help="output folder (default: a temporary one)")
ap.add_argument("--expect-no-cjk-font", action="store_true",
                help="fail unless no CJK font is found (the bare root has none)")
args = ap.parse_args()
out = args.out or tempfile.mkdtemp(prefix="glyph-smoke-")
os.makedirs(out, exist_ok=True)

import glyph  # noqa: E402

here = os.path.dirname(glyph.__file__)
assert os.sep + "site-packages" + os.sep in glyph.__file__, f"glyph imported from {glyph.__file__}"
assert "torch" not in sys.modules, "import glyph imported torch"
print(f"glyph {glyph.__version__} from {here}")

# Every shared library glyph._core needs resolves to the copies inside the wheel, except glibc's,
# libstdc++, libgcc_s and zlib (the manylinux policy's base system; zlib1g is in every Debian,
# minbase included). GLib, which the policy also assumes, is carried (scripts/graft_libs.py).
SYSTEM = re.compile(r"^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libz)[.-]")
ldd = subprocess.run(["ldd", glyph._core.__file__], capture_output=True, text=True, check=True).stdout
grafted = []
for line in ldd.splitlines():
    line = line.strip()
    name = line.split()[0]
    assert "not found" not in line, f"glyph._core: {line}"
    if SYSTEM.match(os.path.basename(name)) or name.startswith("/lib64/ld-linux"):
        continue
    path = line.split("=>")[1].split("(")[0].strip()
    assert "glyphcpp.libs" in path, f"glyph._core loads {name} from outside the wheel: {path}"
    grafted.append(name)
for lib in ("libfreetype", "libharfbuzz", "libdeflate", "libpcre2-8", "libglib-2.0", "libpng16"):
    assert any(g.startswith(lib) for g in grafted), f"{lib} is not carried by the wheel: {grafted}"
print("libraries from the wheel:", " ".join(sorted(grafted)))

# A page: the shipped font, Glyph's default config, PNG bytes that Pillow decodes to the pixels.
font = glyph.default_font_path()
assert font.startswith(here), f"default font {font!r} is not the packaged DejaVu Sans"
result = glyph.Renderer().render(glyph.sample_text())
page = result.pages[0]
assert len(result.pages) >= 1 and page.pixels.shape[2] == 3 and page.visual_tokens > 0
assert page.pixels.min() < 128 < page.pixels.max(), "the page has no text on it"
png = os.path.join(out, "smoke_page.png")
page.save(png)
from PIL import Image  # noqa: E402

import numpy as np  # noqa: E402

with Image.open(png) as im:
    decoded = np.asarray(im.convert("RGB"))
assert np.array_equal(decoded, page.pixels), "Pillow decodes the PNG to other pixels"
print(f"rendered {len(result.pages)} pages, {result.visual_tokens} visual tokens; {png} decodes exactly")

# The tokenizer (PCRE2 split, byte-level BPE): a tokenizer.json made here.
def byte_chars():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


vocab = {c: i for i, c in enumerate(byte_chars())}
vocab["he"] = len(vocab)
tok_json = {
    "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    "post_processor": None,
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
              "vocab": vocab, "merges": ["h e"]},
}
tok = glyph.Tokenizer.from_json(json.dumps(tok_json))
text = "hehe 中文 42!"
ids = tok.encode(text)
assert tok.decode(ids) == text, (ids, tok.decode(ids))
assert len(ids) == len(text.encode("utf-8")) - 2, ids  # "hehe": two merges
print(f"tokenizer: {len(ids)} ids, decodes back")

# Chinese with no CJK font: a warning that names the fix, not silent boxes.
cjk = glyph.find_cjk_font()
if args.expect_no_cjk_font:
    assert cjk == "", f"a CJK font was found ({cjk}) where none should be"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    r = glyph.Renderer().render("Glyph 渲染中文")
hints = [str(w.message) for w in caught if issubclass(w.category, glyph.MissingFontWarning)]
if cjk:
    assert r.stats.missing_glyphs == 0 and not hints, (r.stats.missing_glyphs, hints)
    print(f"Chinese renders with {cjk}")
else:
    assert r.stats.missing_glyphs == 4 and len(hints) == 1, (r.stats.missing_glyphs, hints)
    assert "fonts-noto-cjk" in hints[0] and "GLYPH_CJK_FONT" in hints[0], hints[0]
    print("Chinese without a CJK font warns:", hints[0][:100], "...")

if args.cli:
    v = subprocess.run([args.cli, "--version"], capture_output=True, text=True, check=True).stdout
    assert v.strip() == f"glyphcpp {glyph.__version__}", v
    src = args.text or os.path.join(out, "in.txt")
    if not args.text:
        with open(src, "w", encoding="utf-8") as f:
            f.write(glyph.sample_text())
    cli_out = os.path.join(out, "cli")
    run = subprocess.run([args.cli, "render", src, "--out", cli_out, "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["pages"] >= 1 and all(os.path.isfile(p) for p in summary["image_paths"])
    with Image.open(summary["image_paths"][0]) as im:
        assert im.size[0] > 0
    print(f"glyph render {src}: {summary['pages']} pages in {cli_out}")
print("smoke test passed")
