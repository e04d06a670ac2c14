"""Digest of what the renderer produces, for proving that a refactor changes no output.

    python scripts/render_digest.py > before.json      # on the old build
    python scripts/render_digest.py --compare before.json   # on the new one: exit 1 on any change

For Glyph's case1..4.txt and input.txt (when ../shared/data/glyph-reference is present), the
built-in sample and a few texts of our own (Chinese, mixed, the inline newline markup), under
several configs: the SHA-256 of every page's pixels and PNG bytes, and every laid-out line
(text, x, baseline, width, character span) exactly as the public API reports it.

The PNG hashed is the 24-bit RGB encoding at level 3 (png_color="rgb" since 0.3, which writes the
bytes of earlier versions' only mode), so digests compare across versions; the default "auto" PNGs
(gray/palette) differ from older builds' files by design while decoding to the same pixels.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import glyph

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT.parent / "shared" / "data" / "glyph-reference"

CONFIGS = {
    "default": {},
    "justify-border": {"alignment": "JUSTIFY", "border-width": 1, "border-padding": 3,
                       "para-border-color": "#FF0000", "para-bg-color": "#EEEEEE",
                       "page-bg-color": "#F0F0E0"},
    "center-indents": {"alignment": "CENTER", "first-line-indent": 20, "left-indent": 15,
                       "right-indent": 7},
    "right-spacing": {"alignment": "RIGHT", "space-before": 6, "space-after": 4,
                      "line-height": 11.3},
    "hscale-96dpi": {"horizontal-scale": 0.8, "dpi": 96, "font-size": 10, "line-height": 12},
    "font-markup": {"newline-markup": '<font color="#FF0000"> \\n </font>'},
    "dpi-150": {"dpi": 150, "line-height": 10.3, "space-before": 3, "auto-crop-width": False},
    "dark": {"page-bg-color": "#1E1E1E", "para-bg-color": "#1E1E1E", "font-color": "#D4D4D4",
             "auto-crop-last-page": False},
}


def texts() -> dict:
    out = {
        "sample": glyph.sample_text(),
        "chinese": "从前有一个小女孩，她的名字叫小红帽。她住在森林的边上。\n" * 90,
        "mixed": ("中文 test  two   spaces\n\n 前导空格 and a verylongwordwithoutanyspaces"
                  "andonandonandonandonandon 中文。") * 40,
        "lines": "\n".join(f"line {i}\twith a tab and  two spaces" for i in range(130)),
        # many 30-line paragraphs: CRLF, blank lines, a part count of 30k + 1, removed chars
        "crlf-paragraphs": "".join(
            (f"row {i} soft\xadhyphen zero\u200bwidth \x01ctl  gap\r\n" if i % 7 else "\r\n")
            for i in range(241)),
        "cjk-paragraphs": "".join(f"第{i}行 中文段落 with Latin words 和标点。\n" for i in range(95)),
        # invalid UTF-8 (bytes): each maximal invalid subpart one U+FFFD
        "invalid-utf8": b"ok \xff\xfe bad \xe4\xb8 cut \xf0\x9f\x98 end\n" * 40,
    }
    if REF.is_dir():
        for name in ("input", "case1", "case2", "case3", "case4"):
            out[name] = (REF / f"{name}.txt").read_text(encoding="utf-8")
    return out


def base_config() -> dict:
    # glyph_default() since 0.2; default() before (the digest compares builds across versions)
    default = getattr(glyph.RenderConfig, "glyph_default", None) or glyph.RenderConfig.default
    cfg = json.loads(default().to_json())
    if REF.is_dir():
        cfg["font-path"] = str(REF / "Verdana.ttf")
    return cfg


def _rgb_png(page) -> bytes:
    try:
        return page.to_png_bytes(3, png_color="rgb")
    except TypeError:  # before 0.3: RGB was the only mode
        return page.to_png_bytes(3)


def digest() -> dict:
    out = {}
    for cname, overrides in CONFIGS.items():
        cfg = base_config()
        cfg.update(overrides)
        renderer = glyph.Renderer(cfg)
        for tname, text in texts().items():
            pages = renderer.render(text).pages
            layout = renderer.layout(text)
            out[f"{cname}/{tname}"] = {
                "pages": [
                    {
                        "size": [p.width, p.height],
                        "span": [p.char_begin, p.char_end],
                        "pixels": hashlib.sha256(p.pixels.tobytes()).hexdigest(),
                        "png": hashlib.sha256(_rgb_png(p)).hexdigest(),
                    }
                    for p in pages
                ],
                "lines": hashlib.sha256(json.dumps([
                    [[l.text, repr(l.x), repr(l.baseline), repr(l.width), l.char_begin, l.char_end]
                     for l in pl.lines]
                    for pl in layout
                ]).encode()).hexdigest(),
            }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", help="a digest written earlier; exit 1 if anything differs")
    args = ap.parse_args()
    now = digest()
    if not args.compare:
        json.dump(now, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    before = json.loads(Path(args.compare).read_text())
    changed = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    for k in changed:
        print(f"differs: {k}", file=sys.stderr)
    print(f"{len(now)} renders compared, {len(changed)} differ", file=sys.stderr)
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
