"""`glyph ask`: answer a question about a long text file through rendered pages and GLM-4.1V.

    glyph ask --model /models/Glyph --text book.txt --question "Who is the narrator?"

glyph.cli adds it with add_parser(subparsers); torch is imported only when it runs.
"""
from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("ask", help="ask GLM-4.1V (Glyph) a question about a long text")
    p.add_argument("--model", required=True, help="checkpoint folder (config.json + safetensors)")
    p.add_argument("--text", required=True, help="text file holding the long context ('-' = stdin)")
    p.add_argument("--question", required=True)
    p.add_argument("--config", default=None, help="render config JSON (default: Glyph's)")
    p.add_argument("--tokenizer", default=None, help="folder with tokenizer.json (default: --model)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="weights' dtype (default: the checkpoint's torch_dtype)")
    p.add_argument("--preset", choices=["glyph"], default=None,
                   help="glyph: Glyph's request settings (greedy, repetition penalty 1.1, its "
                        "stop ids); default: the checkpoint's generation_config.json")
    p.add_argument("--raw", action="store_true",
                   help="print what the model wrote, <think> reasoning included (default: the "
                        "answer only; the reasoning goes to stderr with --stats)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=None,
                   help="sample at this temperature (default: the checkpoint's or greedy)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stats", action="store_true", help="print statistics as JSON to stderr")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import glyph
    from glyph import vlm

    text = sys.stdin.read() if args.text == "-" else open(args.text, encoding="utf-8").read()
    model = vlm.Glm4v.from_pretrained(args.model, device=args.device,
                                      dtype=None if args.dtype == "auto" else args.dtype)
    tok = glyph.load_tokenizer(args.tokenizer or args.model)
    pipe = glyph.Pipeline(glyph.Renderer(args.config), model, tok)
    kw = dict(vlm.GLYPH_PRESET) if args.preset == "glyph" else {}
    if args.temperature is not None:
        kw.update(do_sample=True, temperature=args.temperature, top_p=args.top_p, seed=args.seed)
    ans = pipe.ask(text, args.question, max_new_tokens=args.max_new_tokens, **kw)
    print(ans.text if args.raw else ans.content)
    if args.stats:
        print(json.dumps(ans.summary(), indent=2), file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """Stand-alone entry: python -m glyph.vlm_cli ask ... (the same as `glyph ask ...`)."""
    parser = argparse.ArgumentParser(prog="glyph")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
