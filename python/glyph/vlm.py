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

import json
import operator
import os
import warnings
from typing import Any, Callable, Iterable, List, Optional, Sequence, Union

_HOW = ("build it against the installed torch from the source distribution: "
        "`pip install scikit-build-core pybind11` then `pip install --no-build-isolation "
        "--no-binary glyphcpp --force-reinstall --no-deps glyphcpp` (from a clone: "
        "`pip install --no-build-isolation .`); docs/install.md, 'The VLM'")

try:
    import torch  # noqa: F401  (loads libtorch before glyph._vlm needs it)
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("glyph.vlm needs PyTorch: `pip install torch`, then, unless this glyphcpp "
                      "was built with it, " + _HOW.replace("build it", "build glyph._vlm", 1)) from e


def _vlm_import_error(e: ImportError) -> ImportError:
    """Why glyph._vlm does not load, and what to do: it is missing (a wheel, or a build without
    torch), or it was built against another torch than the one installed."""
    here = os.path.dirname(__file__)
    built = [f for f in os.listdir(here) if f.startswith("_vlm.") and f.endswith((".so", ".pyd"))]
    if not built:
        return ImportError("glyph._vlm is not installed: this glyphcpp was built without torch "
                           "(the wheels never carry it: it is tied to one torch version); " + _HOW)
    try:
        with open(os.path.join(here, "_vlm_build.json"), encoding="utf-8") as f:
            against = json.load(f).get("torch")
    except (OSError, ValueError):
        against = None
    if against and against != torch.__version__:
        return ImportError(f"glyph._vlm was built against torch {against}, but torch "
                           f"{torch.__version__} is installed ({e}); rebuild it: " + _HOW)
    return ImportError(f"glyph._vlm does not load ({e}); rebuild it: " + _HOW)


try:
    from . import _vlm
except ImportError as e:  # pragma: no cover
    raise _vlm_import_error(e) from e

import numpy as np

from ._core import (GLM4V_PROMPT_TEMPLATE, Answer, DecodeBenchmark, GenerateOutput, InputError,
                    IoError)
from ._args import INT32, UINT64, flag as _flag, number as _number, whole as _whole
from ._deprecation import warn as _warn
from ._tokenizers import as_codec as _as_codec
from .tokenizer import load_tokenizer

__all__ = ["Answer", "DecodeBenchmark", "GLYPH_PRESET", "Glm4v", "GenerateOutput", "ask",
           "process_images", "checkpoint_tensors", "parse_config", "to_rgb_arrays"]

#: Glyph's recommended request settings (greedy, repetition penalty 1.1, its three stop ids), as
#: keywords for Glm4v.generate / generate_batch / ask: ``model.generate(ids, **GLYPH_PRESET)``.
GLYPH_PRESET: dict = dict(_vlm.GLYPH_PRESET)

_SAMPLING_KEYS = ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty", "stop_ids")

ImageLike = Any  # glyph.Page, numpy (H, W, 3) uint8, PIL.Image, or a file path


def _token_ids(ids: Any, name: str = "input_ids") -> List[int]:
    """Token ids as a list of ints: a list or tuple, or a 1-D tensor / array, or a [1, L] one as
    a transformers tokenizer returns it (one prompt; several are generate_batch's)."""
    shape = getattr(ids, "shape", None)
    if shape is not None and len(shape) != 1:
        if len(shape) == 2 and shape[0] == 1:
            ids = ids[0]
        else:
            raise InputError(f"{name}: one prompt's token ids (shape [L] or [1, L]), got shape "
                             f"{tuple(shape)} (several prompts: generate_batch)")
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"{name}: token ids (a list of ints), not {type(ids).__name__} "
                        f"(a prompt's text: build_prompt or ask)")
    out = []
    for i, t in enumerate(ids.tolist() if hasattr(ids, "tolist") else ids):
        try:
            out.append(operator.index(t))
        except TypeError:
            raise TypeError(f"{name}[{i}]: a token id is an int, got {t!r}") from None
    return out


def _stop_ids(v: Any) -> List[int]:
    """stop_ids: a sequence of ids, or one id."""
    try:
        return [operator.index(v)]
    except TypeError:
        return _token_ids(v, "stop_ids")


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
            try:
                from PIL import Image
            except ImportError:
                raise InputError(f"image {os.fspath(im)!r}: reading image files needs Pillow "
                                 "(pip install 'glyphcpp[pil]'), or pass arrays") from None
            try:
                with Image.open(im) as f:
                    a = np.asarray(f.convert("RGB"))
            except OSError as e:  # missing, unreadable, or not an image (UnidentifiedImageError)
                raise IoError(f"cannot read image {os.fspath(im)!r}: {e.strerror or e}") from None
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
                        dtype: Union[None, str, "torch.dtype"] = None, *,
                        prefill_chunk: int = 4096, vision_batch_pages: int = 8,
                        feature_cache_bytes: int = 256 << 20,
                        staging_bytes: int = 64 << 20, cuda_graphs: bool = True) -> "Glm4v":
        """Loads a GLM-4.1V checkpoint folder (config.json, safetensors single or sharded,
        preprocessor_config.json, generation_config.json).

        device: "cpu", "cuda" (the current GPU), "cuda:N" or "auto" (the GPU when PyTorch sees
        one, else the CPU); one this machine lacks is an InputError naming it.
        dtype: None (the checkpoint's ``torch_dtype``), "float32", "bfloat16" or "float16".
        prefill_chunk: tokens per decoder pass when prefilling (bounds activations at long
        prompts). vision_batch_pages: pages per vision-tower pass. feature_cache_bytes: vision
        features kept by page content (0 turns the cache off). staging_bytes: the pinned buffer
        weights travel through to a GPU (at least 1 MB; its halves take turns, so reading the
        checkpoint and the copy overlap). cuda_graphs: on a CUDA device, decode by replaying one
        captured CUDA graph per generation (``GenerateOutput.decode_cuda_graph`` says whether it
        did). Tensors the model does not use are skipped with one warning (see ``load_info``)."""
        impl = _vlm.Glm4v.from_pretrained(str(path), str(device), _dtype_name(dtype),
                                          _whole("prefill_chunk", prefill_chunk),
                                          _whole("vision_batch_pages", vision_batch_pages,
                                                 fits=INT32),
                                          _whole("feature_cache_bytes", feature_cache_bytes),
                                          _whole("staging_bytes", staging_bytes),
                                          _flag("cuda_graphs", cuda_graphs))
        skipped = impl.load_info["skipped_tensors"]
        if skipped:
            shown = ", ".join(skipped[:10]) + (f" ... ({len(skipped)} in all)" if len(skipped) > 10 else "")
            warnings.warn(f"{path}: skipped {len(skipped)} tensor(s) GLM-4.1V does not use: {shown}",
                          RuntimeWarning, stacklevel=2)
        return cls(impl)

    @classmethod
    def random(cls, config: Any = None, device: str = "cpu",
               dtype: Union[None, str, "torch.dtype"] = None, seed: int = 0, *,
               prefill_chunk: int = 4096, vision_batch_pages: int = 8,
               feature_cache_bytes: int = 256 << 20, cuda_graphs: bool = True) -> "Glm4v":
        """A model with random weights made directly on `device` (normal(0, 0.02) matrices, unit
        norms, zero biases), for benchmarks without a download.

        device: as from_pretrained's ("cpu", "cuda", "cuda:N", "auto").
        config: None (GLM-4.1V-9B's shapes, bfloat16), a dict or JSON string as in config.json, a
        path to a config.json or checkpoint folder, or a transformers ``Glm4vConfig``."""
        return cls(_vlm.Glm4v.random(_config_json(config), str(device), _dtype_name(dtype),
                                     _whole("seed", seed, fits=UINT64),
                                     _whole("prefill_chunk", prefill_chunk),
                                     _whole("vision_batch_pages", vision_batch_pages, fits=INT32),
                                     _whole("feature_cache_bytes", feature_cache_bytes),
                                     _flag("cuda_graphs", cuda_graphs)))

    @property
    def config(self) -> dict:
        return self._m.config

    @property
    def device(self) -> str:
        return self._m.device

    @property
    def dtype(self) -> str:
        return self._m.dtype

    @property
    def load_info(self) -> dict:
        """{skipped_tensors, seconds, bytes, gb_per_second} of from_pretrained."""
        return self._m.load_info

    @property
    def generation_defaults(self) -> dict:
        """Sampling defaults and stop ids from generation_config.json (greedy without one)."""
        return self._m.generation_defaults

    @property
    def runtime_options(self) -> dict:
        """{prefill_chunk, vision_batch_pages, feature_cache_bytes, cuda_graphs}."""
        return self._m.runtime_options

    def set_runtime_options(self, **options) -> None:
        """Change prefill_chunk, vision_batch_pages, feature_cache_bytes or cuda_graphs of a
        loaded model."""
        cur = dict(self._m.runtime_options)
        unknown = set(options) - set(cur)
        if unknown:
            raise InputError(f"unknown runtime option(s): {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(cur)})")
        cur.update(options)
        self._m.set_runtime_options(_whole("prefill_chunk", cur["prefill_chunk"]),
                                    _whole("vision_batch_pages", cur["vision_batch_pages"],
                                           fits=INT32),
                                    _whole("feature_cache_bytes", cur["feature_cache_bytes"]),
                                    _flag("cuda_graphs", cur["cuda_graphs"]))

    @property
    def feature_cache_stats(self) -> dict:
        """{bytes, entries, hits, misses} of the vision-feature cache."""
        return self._m.feature_cache_stats

    def clear_feature_cache(self) -> None:
        self._m.clear_feature_cache()

    def benchmark_decode(self, batch: int, context: int, steps: int = 8,
                         seed: int = 0) -> DecodeBenchmark:
        """The greedy decode step of `batch` sequences over caches of `context` random keys and
        values each (decode speed does not depend on their content), run as generate runs it,
        timed after 2 warm-up steps; for benchmarks. Returns a DecodeBenchmark: `step_seconds`,
        and `cuda_graph` (whether the timed steps replayed a captured CUDA graph)."""
        return self._m.benchmark_decode(_whole("batch", batch), _whole("context", context),
                                        _whole("steps", steps, fits=INT32),
                                        _whole("seed", seed, fits=UINT64))

    def process_images(self, images):
        """Images -> (pixel_values, grid_thw) with this checkpoint's preprocessor settings:
        float32 on the host for a CPU model; for a model on a device the pages go there as uint8
        and the patches are made there in the model's dtype (the same values, rounded)."""
        return self._m.process_images(to_rgb_arrays(images))

    def image_features(self, pixel_values, grid_thw):
        return self._m.image_features(pixel_values, grid_thw)

    def _inputs(self, images, pixel_values, grid_thw):
        """(pixel_values, grid_thw, image_keys): images made into patches here keep their pages'
        feature-cache keys (a device model's patches are keyed by the page bytes)."""
        keys = []
        if images is not None:
            if pixel_values is not None:
                raise InputError("give images or pixel_values/grid_thw, not both")
            arrays = to_rgb_arrays(images)
            if arrays:
                pixel_values, grid_thw, keys = self._m.process_images_keyed(arrays)
        return pixel_values, grid_thw, keys

    def forward(self, input_ids: Sequence[int], images=None, pixel_values=None, grid_thw=None,
                positions: Optional[Sequence[int]] = None):
        """Logits (float32) for a full prompt: [len(input_ids), vocab], or [len(positions), vocab]
        for the rows in `positions` only (at long prompts every row's logits are large: vocab x 4
        bytes a token)."""
        pv, g, keys = self._inputs(images, pixel_values, grid_thw)
        rows = [_whole(f"positions[{i}]", p) for i, p in enumerate(positions or [])]
        return self._m.forward(_token_ids(input_ids), pv, g, rows, keys)

    def new_cache(self):
        """An empty KV cache for prefill / decode_step (one conversation)."""
        return _vlm.KvCache()

    def prefill(self, input_ids: Sequence[int], cache, images=None, pixel_values=None, grid_thw=None):
        """Appends a turn (text and its images) to `cache`; returns the last token's logits."""
        pv, g, keys = self._inputs(images, pixel_values, grid_thw)
        return self._m.prefill(_token_ids(input_ids), cache, pv, g, keys)

    def decode_step(self, token: int, cache):
        """Appends one token to `cache`; returns the logits of the next one."""
        return self._m.decode_step(_whole("token", token), cache)

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
        return _vlm.prompt_ids(self._m, load_tokenizer(tokenizer), counts, question, prompt_template)

    def ask(self, renderer, tokenizer, text: str, question: str, **generate_kw) -> Answer:
        """glyph::vlm::ask: render `text` with `renderer`, prompt with its pages and `question`,
        generate (keywords as generate()). See glyph.vlm.ask."""
        return ask(renderer, self, tokenizer, text, question, **generate_kw)

    def _sampling(self, max_new_tokens: Any, seed: Any, **given: Any) -> tuple:
        """The arguments generate, generate_batch and ask pass on after the prompt, in their order
        (max_new_tokens, do_sample, temperature, top_p, top_k, repetition_penalty, seed,
        stop_ids): the sampling keywords the caller gave, the rest from generation_config.json."""
        o = dict(self._m.generation_defaults)
        o.update({k: v for k, v in given.items() if v is not None})
        temperature, top_p, repetition_penalty = (
            _number(k, o[k]) for k in ("temperature", "top_p", "repetition_penalty"))
        return (_whole("max_new_tokens", max_new_tokens, fits=INT32),
                _flag("do_sample", o["do_sample"]), temperature, top_p,
                _whole("top_k", o["top_k"], fits=INT32), repetition_penalty,
                _whole("seed", seed, fits=UINT64), _stop_ids(o["stop_ids"]))

    def generate(self, input_ids: Sequence[int], images=None, pixel_values=None, grid_thw=None, *,
                 max_new_tokens: int = 128, do_sample: Optional[bool] = None,
                 temperature: Optional[float] = None, top_p: Optional[float] = None,
                 top_k: Optional[int] = None, repetition_penalty: Optional[float] = None,
                 seed: int = 0, stop_ids: Optional[Sequence[int]] = None,
                 stream: Optional[Callable[[int], Optional[bool]]] = None) -> GenerateOutput:
        """Generation with a KV cache sized once for the prompt and max_new_tokens.

        Sampling keywords left as None come from the checkpoint's generation_config.json (greedy
        without one); ``**glyph.vlm.GLYPH_PRESET`` gives Glyph's recommended settings.
        stream(token) is called for each new token; returning False stops generation."""
        args = self._sampling(max_new_tokens, seed, do_sample=do_sample, temperature=temperature,
                              top_p=top_p, top_k=top_k, repetition_penalty=repetition_penalty,
                              stop_ids=stop_ids)  # before the images are processed
        pv, g, keys = self._inputs(images, pixel_values, grid_thw)
        return self._m.generate(_token_ids(input_ids), pv, g, *args, stream, keys)

    def generate_batch(self, prompts: Sequence[Any], *, max_new_tokens: int = 128,
                       do_sample: Optional[bool] = None, temperature: Optional[float] = None,
                       top_p: Optional[float] = None, top_k: Optional[int] = None,
                       repetition_penalty: Optional[float] = None, seed: int = 0,
                       stop_ids: Optional[Sequence[int]] = None) -> List[GenerateOutput]:
        """Several prompts decoded together, each stopping on its own; greedy tokens equal
        generate() on each alone. `prompts`: input_ids lists, or (input_ids, images) pairs (images
        as generate() takes them, or None). Sampling keywords as generate()."""
        args = self._sampling(max_new_tokens, seed, do_sample=do_sample, temperature=temperature,
                              top_p=top_p, top_k=top_k, repetition_penalty=repetition_penalty,
                              stop_ids=stop_ids)  # before the images are processed
        ids, pvs, grids, keys = [], [], [], []
        for i, p in enumerate(prompts):
            if isinstance(p, tuple):
                if len(p) != 2:
                    raise InputError(f"prompt {i}: give input_ids or (input_ids, images)")
                p_ids, images = p
            else:
                p_ids, images = p, None
            pv, g, k = self._inputs(images, None, None)
            ids.append(_token_ids(p_ids, f"prompt {i}"))
            pvs.append(pv)
            grids.append(g)
            keys.append(k)
        return self._m.generate_batch(ids, pvs, grids, *args, keys)

    def __repr__(self) -> str:
        t = self.config["text_config"]
        return (f"Glm4v(layers={t['num_hidden_layers']}, hidden={t['hidden_size']}, "
                f"device={self.device}, dtype={self.dtype})")


def ask(renderer, model: Glm4v, tokenizer, text: str, question: str, *,
        max_new_tokens: int = 128, do_sample: Optional[bool] = None,
        temperature: Optional[float] = None, top_p: Optional[float] = None,
        top_k: Optional[int] = None, repetition_penalty: Optional[float] = None, seed: int = 0,
        stop_ids: Optional[Sequence[int]] = None,
        stream: Optional[Callable[[int], Optional[bool]]] = None,
        prompt_template: str = GLM4V_PROMPT_TEMPLATE) -> Answer:
    """Glyph end to end, in C++ (glyph::vlm::ask): render `text` into pages with `renderer` (a
    glyph.Renderer), prompt `model` with them and `question`, generate, decode.

    `tokenizer` is a glyph.Tokenizer or any tokenizer glyph.load_tokenizer takes; text tokens
    (for the compression ratio) are counted with it. Sampling keywords left as None come from
    the checkpoint's generation_config.json (stop ids: its eos ids); stream(token) is called for
    each new token, returning False stops. The Answer holds the raw text and, split by
    glyph.split_reasoning, its ``reasoning`` and ``content``."""
    impl = getattr(renderer, "_impl", renderer)
    args = model._sampling(max_new_tokens, seed, do_sample=do_sample, temperature=temperature,
                           top_p=top_p, top_k=top_k, repetition_penalty=repetition_penalty,
                           stop_ids=stop_ids)
    return _vlm.ask(impl, model._m, load_tokenizer(tokenizer), text, question, *args, stream,
                    prompt_template)


def parse_config(config: Any = None) -> dict:
    """The GLM-4.1V config as glyphcpp reads it (what Glm4v.random builds), from the same inputs
    as Glm4v.random: None gives GLM-4.1V-9B's shapes."""
    return _vlm.parse_config(_config_json(config))


def _dtype_name(dtype) -> str:
    if dtype is None:
        return "auto"
    if not isinstance(dtype, str):
        dtype = str(dtype).replace("torch.", "")
    return dtype


def _config_json(config) -> str:
    """A config.json text from None (GLM-4.1V-9B), a dict, JSON text, a path or a transformers
    config."""
    if config is None:
        return json.dumps({"model_type": "glm4v", "text_config": {}, "vision_config": {}})
    if hasattr(config, "to_dict"):
        config = config.to_dict()
    if isinstance(config, dict):
        return json.dumps(config, default=str)
    if isinstance(config, os.PathLike) or (isinstance(config, str)
                                          and not config.lstrip().startswith("{")):
        p = os.fspath(config)
        if os.path.isdir(p):
            p = os.path.join(p, "config.json")
        try:
            with open(p, encoding="utf-8") as f:
                return f.read()
        except OSError as e:
            raise IoError(f"cannot read model config {p!r}: {e.strerror or e}") from None
    if isinstance(config, str):
        return config
    raise TypeError(f"config must be a dict, JSON text, a path or a transformers config, "
                    f"not {type(config).__name__}")


def _encode(tokenizer, text: str) -> List[int]:
    """Ids of `text` (no special tokens added) with any tokenizer."""
    return _as_codec(tokenizer).encode(text)


def __getattr__(name: str):
    if name == "ask_cpp":
        _warn("glyph.vlm.ask_cpp", "glyph.vlm.ask")
        return ask
    raise AttributeError(f"module 'glyph.vlm' has no attribute {name!r}")
