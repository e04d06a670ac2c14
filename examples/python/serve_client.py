"""Talk to `glyph serve` with the official OpenAI client: a long text rendered on the server, the
answer plain and streamed, and what the pages cost.

    glyph serve --model /models/Glyph --port 8000 &
    python examples/python/serve_client.py [TEXT_FILE] [--url http://127.0.0.1:8000] [--key KEY]

Without a real checkpoint, serve the tiny random one the tests use (its answers are noise, the
numbers are real):

    PYTHONPATH=tests/python python -c "import serve_helpers; serve_helpers.write_checkpoint('/tmp/tiny')"
    glyph serve --model /tmp/tiny --render-threshold 500 &
"""
import argparse

from openai import OpenAI

import glyph

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("text", nargs="?", help="a long UTF-8 text (default: glyph's built-in sample)")
p.add_argument("--url", default="http://127.0.0.1:8000")
p.add_argument("--key", default="unused", help="the server's API key, if it has one")
p.add_argument("--question", default="Who is the story about?")
args = p.parse_args()

context = open(args.text, encoding="utf-8").read() if args.text else glyph.sample_text() * 2
client = OpenAI(base_url=args.url + "/v1", api_key=args.key)
model = client.models.list().data[0].id
messages = [{"role": "user", "content": [
    {"type": "text", "text": context},          # long: the server renders it into pages
    {"type": "text", "text": args.question},    # short: stays text
]}]

r = client.chat.completions.create(model=model, messages=messages, max_tokens=64)
print("answer:   ", r.choices[0].message.content)
print("reasoning:", r.choices[0].message.model_extra.get("reasoning_content"))
g = r.usage.model_extra["glyph"]
print(f"the model read {r.usage.prompt_tokens} tokens; the context became {g['pages']} page(s), "
      f"{g['visual_tokens']} visual tokens for {g['text_tokens']} text tokens "
      f"(compression {g['compression'] or 0:.2f}x)")

print("streamed: ", end="")
for chunk in client.chat.completions.create(model=model, messages=messages, max_tokens=64,
                                            stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()

# A part marked for rendering, with its own config keys over the server's (fonts stay the
# server's); the second turn's pages come from the server's render cache.
marked = [{"role": "user", "content": [
    {"type": "text", "text": context, "glyph": {"render": True, "config": {"dpi": 96}}},
    {"type": "text", "text": args.question}]}]
for turn in (1, 2):
    r = client.chat.completions.create(model=model, messages=marked, max_tokens=16)
    g = r.usage.model_extra["glyph"]
    print(f"dpi 96, turn {turn}: {g['pages']} page(s), {g['visual_tokens']} visual tokens, "
          f"{g['pages_from_cache']} from the cache")
