"""`glyph ask`: answer a question about a long text file through rendered pages and GLM-4.1V.

    glyph ask --model /models/Glyph --text book.txt --question "Who is the narrator?"

glyph.cli adds it with add_parser(subparsers); torch is imported only when it runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("ask", help="ask GLM-4.1V (Glyph) a question about a long text")
    p.add_argument("--model", required=True, help="checkpoint folder (config.json + safetensors)")
    p.add_argument("--text", required=True, help="text file holding the long context ('-' = stdin)")
    p.add_argument("--question", required=True, help="the question about the text")
    p.add_argument("--config", default=None, help="render config JSON (default: Glyph's)")
    p.add_argument("--tokenizer", default=None, help="folder with tokenizer.json (default: --model)")
    p.add_argument("--device", default="auto",
                   help="auto (the GPU when PyTorch sees one, else the CPU; the default), cpu, "
                        "cuda or cuda:N")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="weights' dtype (default: the checkpoint's torch_dtype)")
    p.add_argument("--preset", choices=["glyph"], default=None,
                   help="glyph: Glyph's request settings (greedy, repetition penalty 1.1, its "
                        "stop ids); default: the checkpoint's generation_config.json")
    p.add_argument("--raw", action="store_true",
                   help="print what the model wrote, <think> reasoning included (default: the "
                        "answer only; the reasoning goes to stderr with --stats)")
    p.add_argument("--max-new-tokens", type=int, default=256,
                   help="most tokens to generate (default 256)")
    p.add_argument("--temperature", type=float, default=None,
                   help="sample at this temperature (default: the checkpoint's or greedy)")
    p.add_argument("--top-p", type=float, default=None,
                   help="sampling: nucleus mass (default: the checkpoint's, else 1.0)")
    p.add_argument("--top-k", type=int, default=None,
                   help="sampling: keep the k likeliest tokens (default: the checkpoint's, else off)")
    p.add_argument("--repetition-penalty", type=float, default=None,
                   help="penalty on tokens already seen, as transformers' (default: the preset's "
                        "or the checkpoint's, else 1.0)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--stats", action="store_true", help="print statistics as JSON to stderr")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import glyph
    from glyph import vlm

    # the cheap inputs first, so a typo in one fails before the weights are read
    if not os.path.isdir(args.model):
        raise glyph.ModelLoadError(f"{args.model} is not a checkpoint folder")
    text = _read_text(args.text)
    if not text.strip():  # an empty pipe (cat missing.txt | glyph ask --text -) among others
        raise glyph.InputError(f"--text {args.text!r} is empty: nothing to render")
    if not args.question.strip():
        raise glyph.InputError("--question is empty")
    tok = glyph.load_tokenizer(args.tokenizer or args.model)
    renderer = glyph.Renderer(args.config)
    model = vlm.Glm4v.from_pretrained(args.model, device=args.device,
                                      dtype=None if args.dtype == "auto" else args.dtype)
    pipe = glyph.Pipeline(renderer, model, tok)
    kw = dict(vlm.GLYPH_PRESET) if args.preset == "glyph" else {}
    kw["seed"] = args.seed  # used when sampling (--temperature or the checkpoint's do_sample)
    if args.temperature is not None:
        kw.update(do_sample=True, temperature=args.temperature)
    for key in ("top_p", "top_k", "repetition_penalty"):
        if getattr(args, key) is not None:
            kw[key] = getattr(args, key)
    from tqdm.auto import tqdm

    # on a terminal, a bar over the tokens generated (it starts once the pages are prefilled)
    with tqdm(total=args.max_new_tokens, desc="generate", unit="tok", disable=None,
              file=sys.stderr, leave=False) as bar:
        def on_token(_token: int) -> None:
            bar.update(1)

        ans = pipe.ask(text, args.question, max_new_tokens=args.max_new_tokens, stream=on_token,
                       **kw)
    print(ans.text if args.raw else ans.content)
    if args.stats:
        print(json.dumps(ans.summary(), indent=2), file=sys.stderr)
    return 0


def _read_text(path: str) -> str:
    """The context, from a file or '-' (stdin). Invalid UTF-8 is replaced, as the renderer does,
    with a warning saying how much; a file that cannot be read is an IoError naming it."""
    from glyph import IoError

    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise IoError(f"cannot read text file {path!r}: {e.strerror or e}") from None
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    if bad:
        print(f"warning: {path}: {bad} invalid UTF-8 sequence(s) replaced by U+FFFD",
              file=sys.stderr)
    return text


def main(argv=None) -> int:
    """Stand-alone entry: python -m glyph.vlm_cli ask ... (the same as `glyph ask ...`)."""
    parser = argparse.ArgumentParser(prog="glyph")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
