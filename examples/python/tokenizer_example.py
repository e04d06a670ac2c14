#!/usr/bin/env python3
"""Count text tokens, compute Glyph's compression ratio and build a GLM-4.1V prompt.

    python examples/python/tokenizer_example.py path/to/tokenizer.json [text.txt]

Any Hugging Face byte-level BPE tokenizer.json works (GLM-4.1V's, Qwen2's, Qwen3's, GPT-2's
...); the prompt part needs a GLM-4.1V tokenizer (it has the <|image|> tokens).
"""
import sys

import glyph


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tok = glyph.load_tokenizer(sys.argv[1], fallback=False)  # + tokenizer_config.json beside it
    text = open(sys.argv[2], encoding="utf-8").read() if len(sys.argv) > 2 else glyph.sample_text()

    ids = tok.encode(text, add_special_tokens=False)
    assert tok.decode(ids) == tok.normalize(text)  # the text itself, or its NFC (Qwen)
    print(f"{len(ids)} text tokens; first ones: {tok.tokenize(text)[:8]}")

    result = glyph.Renderer().render(text)
    print(result.summary(tokenizer=tok))  # pages, visual tokens, text tokens, compression

    if tok.token_to_id("<|image|>") is not None:
        prompt_ids = glyph.glm4v_prompt_ids(tok, result.pages, "Summarise the text.")
        print(f"GLM-4.1V prompt: {len(prompt_ids)} tokens for {len(result.pages)} page(s)")
    print(glyph.glm4v_prompt([3], "Who?"))  # the prompt text, 3 image tokens for the page


if __name__ == "__main__":
    main()
