"""GLM-4.1V (Glyph's backbone) in C++/LibTorch: load a Hugging Face checkpoint, run it on pages.

    import glyph, glyph.vlm
    model = glyph.vlm.Glm4v.from_pretrained("/models/Glyph", device="cpu", dtype="bfloat16")
    tok = glyph.load_tokenizer("/models/Glyph")
    answer = glyph.vlm.ask(glyph.Renderer(), model, tok, long_text, "Who wrote it?")
    # or step by step:
    pages = glyph.Renderer().render(long_text).pages
    ids = model.build_prompt(tok, "Who wrote it?", images=pages)
    out = model.generate(ids, images=pages, max_new_tokens=64)
    tok.decode(out.tokens)

Needs torch (the compiled half, glyph._vlm, links libtorch); `import glyph` alone never does.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, List, Optional, Sequence, Union

try:
    import torch  # noqa: F401  (loads libtorch before glyph._vlm needs it)
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "glyph.vlm needs PyTorch: `pip install torch`, then rebuild glyphcpp with torch importable "
        "(pip install --no-build-isolation .) so that glyph._vlm is compiled"
    ) from e

try:
    from . import _vlm
except ImportError as e:  # pragma: no cover
    raise ImportError(
        "glyph._vlm is not built: glyphcpp was compiled without torch. Install torch into the build "
        "environment and reinstall glyphcpp with `pip install --no-build-isolation .`"
    ) from e

import numpy as np

from ._core import GLM4V_PROMPT_TEMPLATE, Answer, GenerateOutput, InputError
from ._deprecation import warn as _warn
from ._tokenizers import as_codec as _as_codec

__all__ = ["Answer", "Glm4v", "GenerateOutput", "ask", "process_images", "checkpoint_tensors",
           "to_rgb_arrays"]

ImageLike = Any  # glyph.Page, numpy (H, W, 3) uint8, PIL.Image, or a file path


def to_rgb_arrays(images: Union[ImageLike, Iterable[ImageLike]]) -> List[np.ndarray]:
    """Pages, arrays, PIL images or paths -> list of C-contiguous (H, W, 3) uint8 arrays."""
    if isinstance(images, (str, os.PathLike, np.ndarray)) or hasattr(images, "pixels"):
        images = [images]
    out = []
    for im in images:
        if hasattr(im, "pixels"):  # glyph.Page
            a = np.asarray(im.pixels)
        elif isinstance(im, np.ndarray):
            a = im
        elif isinstance(im, (str, os.PathLike)):
            from PIL import Image

            with Image.open(im) as f:
                a = np.asarray(f.convert("RGB"))
        elif hasattr(im, "convert"):  # PIL.Image
            a = np.asarray(im.convert("RGB"))
        else:
            raise TypeError(f"cannot use {type(im).__name__} as an image")
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise InputError(f"images must be (H, W, 3) uint8, got {a.shape} {a.dtype}")
        out.append(np.ascontiguousarray(a))
    return out


def process_images(images, min_pixels: int = 12544, max_pixels: int = 9633792, patch_size: int = 14,
                   merge_size: int = 2, temporal_patch_size: int = 2):
    """Glm4vImageProcessor in C++: images -> (pixel_values float32 [N, 1176], grid_thw int64 [n, 3])."""
    return _vlm.process_images(to_rgb_arrays(images), min_pixels, max_pixels, patch_size,
                               merge_size, temporal_patch_size)


def checkpoint_tensors(path: str) -> dict:
    """{name: (dtype, shape)} of a safetensors checkpoint (file, folder or sharded index)."""
    return _vlm.checkpoint_tensors(str(path))


class Glm4v:
    """A loaded GLM-4.1V model (weights live in C++; nothing here runs transformers)."""

    def __init__(self, impl):
        self._m = impl

    @classmethod
    def from_pretrained(cls, path: Union[str, os.PathLike], device: str = "cpu",
                        dtype: Union[str, "torch.dtype"] = "float32") -> "Glm4v":
        if not isinstance(dtype, str):
            dtype = str(dtype).replace("torch.", "")
        return cls(_vlm.Glm4v.from_pretrained(str(path), str(device), dtype))

    @property
    def config(self) -> dict:
        return self._m.config

    @property
    def device(self) -> str:
        return self._m.device

    @property
    def dtype(self) -> str:
        return self._m.dtype

    def process_images(self, images):
        """Images -> (pixel_values, grid_thw) with this checkpoint's preprocessor settings."""
        return self._m.process_images(to_rgb_arrays(images))

    def image_features(self, pixel_values, grid_thw):
        return self._m.image_features(pixel_values, grid_thw)

    def _inputs(self, images, pixel_values, grid_thw):
        if images is not None:
            if pixel_values is not None:
                raise InputError("give images or pixel_values/grid_thw, not both")
            arrays = to_rgb_arrays(images)
            if arrays:
                pixel_values, grid_thw = self.process_images(arrays)
        return pixel_values, grid_thw

    def forward(self, input_ids: Sequence[int], images=None, pixel_values=None, grid_thw=None):
        """Logits [len(input_ids), vocab] (float32) for a full prompt."""
        pv, g = self._inputs(images, pixel_values, grid_thw)
        return self._m.forward(list(map(int, input_ids)), pv, g)

    def new_cache(self):
        """An empty KV cache for prefill / decode_step (one conversation)."""
        return _vlm.KvCache()

    def prefill(self, input_ids: Sequence[int], cache, images=None, pixel_values=None, grid_thw=None):
        """Appends a turn (text and its images) to `cache`; returns the last token's logits."""
        pv, g = self._inputs(images, pixel_values, grid_thw)
        return self._m.prefill(list(map(int, input_ids)), cache, pv, g)

    def decode_step(self, token: int, cache):
        """Appends one token to `cache`; returns the logits of the next one."""
        return self._m.decode_step(int(token), cache)

    def image_token_counts(self, images) -> List[int]:
        _, grid = self.process_images(images)
        m = self.config["vision_config"]["spatial_merge_size"]
        return [int(t * h * w) // (m * m) for t, h, w in grid.tolist()]

    def build_prompt(self, tokenizer, question: str, images=None, system: Optional[str] = None,
                     prompt_template: str = GLM4V_PROMPT_TEMPLATE) -> List[int]:
        """GLM-4.1V chat prompt: [gMASK]<sop><|user|>\n (images) question <|assistant|>\n, the
        C++ builder's ids (glyph::vlm::prompt_ids): the text through `tokenizer` (a
        glyph.Tokenizer or any tokenizer glyph.load_tokenizer takes; it must know GLM-4.1V's chat
        tokens), the images' markup by this model's ids. `system` puts a system turn first."""
        counts = self.image_token_counts(images) if images is not None else []
        if system:
            escaped = system.replace("{", "{{").replace("}", "}}")
            prompt_template = prompt_template.replace(
                "[gMASK]<sop>", "[gMASK]<sop><|system|>\n" + escaped, 1)
        return _vlm.prompt_ids(self._m, tokenizer, counts, question, prompt_template)

    def ask(self, renderer, tokenizer, text: str, question: str, **generate_kw) -> Answer:
        """glyph::vlm::ask: render `text` with `renderer`, prompt with its pages and `question`,
        generate (keywords as generate()). See glyph.vlm.ask."""
        return ask(renderer, self, tokenizer, text, question, **generate_kw)

    def generate(self, input_ids: Sequence[int], images=None, pixel_values=None, grid_thw=None, *,
                 max_new_tokens: int = 128, do_sample: bool = False, temperature: float = 1.0,
                 top_p: float = 1.0, top_k: int = 0, repetition_penalty: float = 1.0, seed: int = 0,
                 stop_ids: Optional[Sequence[int]] = None,
                 stream: Optional[Callable[[int], Optional[bool]]] = None) -> GenerateOutput:
        """Greedy (default) or sampled generation with a KV cache.

        stream(token) is called for each new token; returning False stops generation."""
        pv, g = self._inputs(images, pixel_values, grid_thw)
        return self._m.generate(list(map(int, input_ids)), pv, g, int(max_new_tokens),
                                bool(do_sample), float(temperature), float(top_p), int(top_k),
                                float(repetition_penalty), int(seed),
                                [int(s) for s in (stop_ids or [])], stream)

    def __repr__(self) -> str:
        t = self.config["text_config"]
        return (f"Glm4v(layers={t['num_hidden_layers']}, hidden={t['hidden_size']}, "
                f"device={self.device}, dtype={self.dtype})")


def ask(renderer, model: Glm4v, tokenizer, text: str, question: str, *,
        max_new_tokens: int = 128, do_sample: bool = False, temperature: float = 1.0,
        top_p: float = 1.0, top_k: int = 0, repetition_penalty: float = 1.0, seed: int = 0,
        stop_ids: Optional[Sequence[int]] = None,
        stream: Optional[Callable[[int], Optional[bool]]] = None,
        prompt_template: str = GLM4V_PROMPT_TEMPLATE) -> Answer:
    """Glyph end to end, in C++ (glyph::vlm::ask): render `text` into pages with `renderer` (a
    glyph.Renderer), prompt `model` with them and `question`, generate, decode.

    `tokenizer` is a glyph.Tokenizer or any tokenizer glyph.load_tokenizer takes; text tokens
    (for the compression ratio) are counted with it. stop_ids default to the checkpoint's eos ids;
    stream(token) is called for each new token, returning False stops."""
    impl = getattr(renderer, "_impl", renderer)
    return _vlm.ask(impl, model._m, tokenizer, text, question, int(max_new_tokens),
                    bool(do_sample), float(temperature), float(top_p), int(top_k),
                    float(repetition_penalty), int(seed), [int(s) for s in (stop_ids or [])],
                    stream, prompt_template)


def _encode(tokenizer, text: str) -> List[int]:
    """Ids of `text` (no special tokens added) with any tokenizer."""
    return _as_codec(tokenizer).encode(text)


def __getattr__(name: str):
    if name == "ask_cpp":
        _warn("glyph.vlm.ask_cpp", "glyph.vlm.ask")
        return ask
    raise AttributeError(f"module 'glyph.vlm' has no attribute {name!r}")
