"""Render a benchmark context the way Glyph's evaluation scripts do, next to the demo layout.

    python examples/python/evaluation_layout.py context.txt out/ [--config config_en.json]

Glyph's evaluation scripts (LongBench, MRCR, RULER) lay out a whole context as ONE paragraph and
write each tab as four no-break spaces; its demo (text_to_images, glyphcpp's default) cuts the
text into paragraphs of 30 lines. RenderConfig.evaluation_layout() returns a copy of a config with
the two keys that select the evaluation layout (paragraph-lines 0, tab-nbsp 4); every other key,
the item's own Glyph config included, is kept. Pages are written as they are made
(out/evaluation/page_001.png, ...), and the page count of both layouts is printed.
"""
import argparse
import pathlib

import glyph


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("text")
    ap.add_argument("out")
    ap.add_argument("--config", help="a Glyph config file (default: Glyph's searched config)")
    args = ap.parse_args()

    demo = (glyph.RenderConfig.from_file(args.config) if args.config
            else glyph.RenderConfig.glyph_default())
    evaluation = demo.evaluation_layout()          # paragraph-lines 0, tab-nbsp 4
    print("evaluation keys:", {k: evaluation.to_dict()[k] for k in ("paragraph-lines", "tab-nbsp")})

    source = glyph.text_source(pathlib.Path(args.text))
    paths = glyph.Renderer(evaluation).render_to_dir(source, args.out, "evaluation")
    spans = [(p.char_begin, p.char_end) for p in glyph.Renderer(evaluation).layout(source)]
    n_demo = len(glyph.Renderer(demo).layout(source))
    print(f"evaluation layout: {len(paths)} pages ({paths.stats.visual_tokens} visual tokens); "
          f"demo layout: {n_demo} pages")
    print("first page shows characters", spans[0])


if __name__ == "__main__":
    main()
