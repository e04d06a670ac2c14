"""Render a text the way Glyph does, look at the pages, count what they cost.

    python examples/python/render_example.py [TEXT_FILE] [CONFIG_JSON]
"""
import sys

import glyph

text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else glyph.sample_text()
renderer = glyph.Renderer(sys.argv[2] if len(sys.argv) > 2 else None)

result = renderer.render(text)
print(result.summary())
for page in result.pages[:3]:
    shown = text[page.char_begin:page.char_end]
    print(f"page {page.index + 1}: {page.width}x{page.height}, {page.visual_tokens} visual tokens, "
          f"{len(shown)} characters starting {shown[:40]!r}")

# Lines as data: where every line went.
first = renderer.layout(text)[0].lines[0]
print(f"first line at x={first.x} pt, baseline={first.baseline} pt: {first.text!r}")

paths = renderer.render_to_dir(text, "glyph_example_out", unique_id="sample")
print("wrote", paths[0], "...", paths[-1])

# PNG colour type: 8-bit gray (or a palette) when that is exact, else RGB; pixels are the same.
# png_color="rgb" (or "png-color": "rgb" in the config) always writes 24-bit RGB.
page = result.pages[0]
auto, rgb = page.to_png_bytes(), page.to_png_bytes(png_color="rgb")
print(f"page 1 as PNG: {len(auto):,} bytes (auto: gray for this theme), {len(rgb):,} bytes (RGB)")
