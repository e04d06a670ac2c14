"""Tiny random GLM-4.1V checkpoints built with transformers, for the parity tests and the benchmark."""
from __future__ import annotations

import torch


def hf_image_processor():
    """transformers' GLM-4.1V image processor on its PIL backend, the one glyph.vlm.process_images
    is exact against. With torchvision installed (as on the GPU machine), transformers 5's
    `Glm4vImageProcessor` is the torchvision backend, whose resize differs from PIL's (by up to
    0.015 after normalisation on random pixels): the parity checks name the PIL one."""
    import transformers

    cls = getattr(transformers, "Glm4vImageProcessorPil", None) or transformers.Glm4vImageProcessor
    return cls(size={"shortest_edge": 12544, "longest_edge": 9633792})


def tiny_config(hidden=64, layers=2, heads=4, kv_heads=2, vision_hidden=32, vision_depth=2,
                vision_heads=2, vocab=160, image_size=56, intermediate=96, vision_intermediate=80,
                image_ids=None):
    from transformers import Glm4vConfig

    head_dim = hidden // heads
    rot_half = head_dim // 4  # partial_rotary_factor 0.5: rotary_dim/2 frequencies
    a = max(1, rot_half // 4)
    b = (rot_half - a) // 2
    section = [a, b, rot_half - a - b]
    return Glm4vConfig(
        text_config=dict(
            vocab_size=vocab, hidden_size=hidden, intermediate_size=intermediate,
            num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
            rope_parameters=dict(rope_type="default", rope_theta=10000.0, mrope_section=section,
                                 partial_rotary_factor=0.5),
            max_position_embeddings=4096, rms_norm_eps=1e-5,
        ),
        vision_config=dict(
            hidden_size=vision_hidden, depth=vision_depth, num_heads=vision_heads,
            out_hidden_size=hidden, intermediate_size=vision_intermediate, patch_size=14,
            spatial_merge_size=2, temporal_patch_size=2, image_size=image_size, rms_norm_eps=1e-5,
        ),
        # ids inside the tiny vocabulary: (image, begin_of_image, end_of_image)
        image_token_id=(image_ids or (vocab - 1,))[0],
        image_start_token_id=(image_ids or (0, vocab - 3))[1],
        image_end_token_id=(image_ids or (0, 0, vocab - 2))[2],
        video_start_token_id=vocab - 5, video_end_token_id=vocab - 4,
        eos_token_id=[vocab - 6],
    )


SPECIALS = ["[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>", "<unk>"]


def make_tokenizer(text, vocab_size=140):
    """A small word-level tokenizer (ids < vocab_size) holding GLM's chat special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=SPECIALS)
    tok.train_from_iterator([text, "\n"], trainer)
    return tok


GLM_SPECIALS = ["<|endoftext|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>",
                "<|begin_of_image|>", "<|end_of_image|>", "<|image|>"]


def make_glm_tokenizer(text, vocab_size=400):
    """A small byte-level BPE tokenizer with GLM-4.1V's special tokens (like GLM's tokenizer.json)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=GLM_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator([text], trainer)
    return tok


def make_model(seed=0, **kw):
    from transformers import Glm4vForConditionalGeneration

    torch.manual_seed(seed)
    cfg = tiny_config(**kw)
    model = Glm4vForConditionalGeneration(cfg).eval()
    # Non-trivial norms and biases, so a wrong norm or a dropped bias shows in the logits.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name or "layernorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
            elif p.dim() >= 2:
                p.normal_(0.0, 0.08)
    return model


def save(model, path, shard=None):
    kw = {"safe_serialization": True} if shard is None else {"max_shard_size": shard}
    try:
        model.save_pretrained(path, **kw)
    except TypeError:
        kw.pop("safe_serialization", None)
        model.save_pretrained(path, **kw)
    return path


def random_images(sizes, seed=0):
    """Random (H, W, 3) uint8 images of the given (h, w) sizes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]


def prompt_ids(cfg, image_tokens, text_lens, seed=0):
    """Text runs of random ids with images between: t0 [img0] t1 [img1] ... ."""
    g = torch.Generator().manual_seed(seed)
    vocab = cfg.text_config.vocab_size
    ids = []
    for i, n in enumerate(text_lens):
        ids += torch.randint(0, vocab - 8, (n,), generator=g).tolist()
        if i < len(image_tokens):
            ids += [cfg.image_start_token_id] + [cfg.image_token_id] * image_tokens[i] + [cfg.image_end_token_id]
    return ids
