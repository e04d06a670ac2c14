"""Render a text file of any size with bounded memory, and count its tokens the same way.

    python examples/python/stream_render.py book.txt out/ [--config config_en.json]
        [--tokenizer tokenizer.json]

The file is read in 1 MiB chunks (glyph.text_source): only the current 30-line paragraph and a
page or two are in memory, and each page is written as soon as it is made. The pages are
byte-identical to Renderer.render(open(path).read()).
"""
import argparse
import pathlib

import glyph


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("text")
    ap.add_argument("out")
    ap.add_argument("--config")
    ap.add_argument("--tokenizer")
    args = ap.parse_args()

    renderer = glyph.Renderer(args.config)
    source = glyph.text_source(pathlib.Path(args.text))   # or TextSource.from_file(path)
    paths = renderer.render_to_dir(source, args.out)       # pages written as they are made
    st = paths.stats
    print(f"{len(paths)} pages, {st.visual_tokens} visual tokens, {st.characters} characters")
    print(f"invalid UTF-8 replaced: {st.invalid_utf8}, removed: {st.removed}, "
          f"missing glyphs: {st.missing_glyphs}")

    # Or page by page, e.g. to feed a model without writing files:
    first = []
    renderer.render_each(source, lambda page: first.append(page.size) if not first else None)
    print(f"first page: {first[0][0]}x{first[0][1]}")

    if args.tokenizer:
        n = glyph.count_tokens(args.tokenizer, source)     # 1 MiB windows, exact
        print(f"text tokens: {n}, compression {n / st.visual_tokens:.2f}x")


if __name__ == "__main__":
    main()
