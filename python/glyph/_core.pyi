"""
glyphcpp core: renderer, tokenizer and search (no torch needed)
"""
from __future__ import annotations
import collections.abc
import numpy
import typing
from typing import Mapping
__all__: list[str] = ['Alignment', 'ConfigError', 'FontError', 'GLM4V_PROMPT_TEMPLATE', 'GenerationLog', 'GlyphError', 'GlyphIOError', 'GlyphNotImplementedError', 'Individual', 'InputError', 'LineInfo', 'ModelLoadError', 'Page', 'PageLayout', 'RenderConfig', 'SearchError', 'SearchOptions', 'SearchSpace', 'Tokenizer', 'TokenizerError', 'advisor_prompt', 'approx_text_tokens', 'build_glm4v_prompt', 'build_glm4v_prompt_ids', 'char_accuracy', 'default_font_path', 'find_cjk_font', 'hardware_threads', 'parse_advisor_reply', 'smart_resize', 'visual_tokens']
class GlyphError(RuntimeError):
    pass
class ConfigError(GlyphError):
    pass
class FontError(GlyphError):
    pass
class GlyphIOError(GlyphError):
    pass
class InputError(GlyphError):
    pass
class TokenizerError(GlyphError):
    pass
class ModelLoadError(GlyphError):
    pass
class SearchError(GlyphError):
    pass
class GlyphNotImplementedError(GlyphError):
    pass
class Alignment:
    """
    Members:
    
      LEFT
    
      CENTER
    
      RIGHT
    
      JUSTIFY
    """
    CENTER: typing.ClassVar[Alignment]
    JUSTIFY: typing.ClassVar[Alignment]
    LEFT: typing.ClassVar[Alignment]
    RIGHT: typing.ClassVar[Alignment]
    __members__: typing.ClassVar[dict[str, Alignment]]
    @typing.overload
    def __eq__(self, other: Alignment) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: Alignment) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class RenderConfig:
    """
    Rendering config with every key of Glyph's config files (kebab-case JSON, same defaults).
    
        cfg = glyph.RenderConfig.from_file("config_en.json")
        cfg = glyph.RenderConfig.from_dict({"font-size": 10, "dpi": 96})
        cfg = glyph.RenderConfig.default()     # Glyph's searched config with DejaVu Sans
    """
    alignment: Alignment
    auto_crop_last_page: bool
    auto_crop_width: bool
    font_color: str
    font_path: str
    newline_markup: str
    page_bg_color: str
    @staticmethod
    def default() -> RenderConfig:
        """
        Glyph's config_en.json with a shipped free font (and a CJK fallback if found).
        """
    @staticmethod
    def from_dict(d: Mapping[str, typing.Any], base_dir: str = '') -> RenderConfig:
        """
        Glyph-style dict (kebab-case keys) -> RenderConfig; missing keys take Glyph's defaults.
        """
    @staticmethod
    def from_file(path: str) -> RenderConfig:
        ...
    @staticmethod
    def from_json(json: str, base_dir: str = '') -> RenderConfig:
        ...
    @staticmethod
    def keys() -> list[str]:
        ...
    def __copy__(self) -> RenderConfig:
        ...
    def __deepcopy__(self, arg0: dict) -> RenderConfig:
        ...
    def __init__(self) -> None:
        """
        Reference defaults (A4, margins 20, 9 pt, JUSTIFY, 72 dpi); no font set.
        """
    def __repr__(self) -> str:
        ...
    def save(self, path: str) -> None:
        ...
    def set(self, key: str, json_value: str) -> None:
        """
        Set one key from its JSON text, e.g. cfg.set('font-size', '10').
        """
    def to_dict(self) -> dict:
        ...
    def to_json(self, indent: typing.SupportsInt | typing.SupportsIndex = 2) -> str:
        ...
    def validate(self) -> None:
        ...
    @property
    def border_padding(self) -> float:
        ...
    @border_padding.setter
    def border_padding(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def border_width(self) -> float:
        ...
    @border_width.setter
    def border_width(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def dpi(self) -> float:
        ...
    @dpi.setter
    def dpi(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def fallback_font_paths(self) -> list[str]:
        ...
    @fallback_font_paths.setter
    def fallback_font_paths(self, arg0: collections.abc.Sequence[str]) -> None:
        ...
    @property
    def first_line_indent(self) -> float:
        ...
    @first_line_indent.setter
    def first_line_indent(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def font_size(self) -> float:
        ...
    @font_size.setter
    def font_size(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def horizontal_scale(self) -> float:
        ...
    @horizontal_scale.setter
    def horizontal_scale(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def leading(self) -> float:
        ...
    @property
    def left_indent(self) -> float:
        ...
    @left_indent.setter
    def left_indent(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def line_height(self) -> float | None:
        ...
    @line_height.setter
    def line_height(self, arg0: typing.SupportsFloat | typing.SupportsIndex | None) -> None:
        ...
    @property
    def margin_x(self) -> float:
        ...
    @margin_x.setter
    def margin_x(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def margin_y(self) -> float:
        ...
    @margin_y.setter
    def margin_y(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def page_size(self) -> tuple[float, float]:
        ...
    @page_size.setter
    def page_size(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def right_indent(self) -> float:
        ...
    @right_indent.setter
    def right_indent(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def space_after(self) -> float:
        ...
    @space_after.setter
    def space_after(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def space_before(self) -> float:
        ...
    @space_before.setter
    def space_before(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class Page:
    """
    One rendered page: RGB pixels plus the source text span it shows.
    """
    def __repr__(self) -> str:
        ...
    def save(self, path: str, compression: typing.SupportsInt | typing.SupportsIndex = 3) -> None:
        """
        Write a PNG (stb_image_write).
        """
    def to_pil(self) -> typing.Any:
        """
        A PIL.Image (RGB) copy of the page.
        """
    def to_png_bytes(self, compression: typing.SupportsInt | typing.SupportsIndex = 3) -> bytes:
        ...
    @property
    def char_begin(self) -> int:
        ...
    @property
    def char_end(self) -> int:
        ...
    @property
    def file_name(self) -> str:
        ...
    @property
    def height(self) -> int:
        ...
    @property
    def index(self) -> int:
        ...
    @property
    def pixels(self) -> numpy.ndarray:
        """
        numpy uint8 array (H, W, 3), zero-copy
        """
    @property
    def size(self) -> tuple[int, int]:
        ...
    @property
    def visual_tokens(self) -> int:
        ...
    @property
    def width(self) -> int:
        ...
class LineInfo:
    def __repr__(self) -> str:
        ...
    @property
    def baseline(self) -> float:
        ...
    @property
    def char_begin(self) -> int:
        ...
    @property
    def char_end(self) -> int:
        ...
    @property
    def text(self) -> str:
        ...
    @property
    def width(self) -> float:
        ...
    @property
    def x(self) -> float:
        ...
class PageLayout:
    @property
    def char_begin(self) -> int:
        ...
    @property
    def char_end(self) -> int:
        ...
    @property
    def lines(self) -> list[LineInfo]:
        ...
class _Renderer:
    @typing.overload
    def __init__(self, config: RenderConfig) -> None:
        ...
    @typing.overload
    def __init__(self) -> None:
        ...
    def layout(self, text: typing.Any) -> list[PageLayout]:
        ...
    def render(self, text: typing.Any) -> tuple[list, dict]:
        ...
    def render_batch(self, texts: list, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> list:
        ...
    def render_each(self, text: typing.Any, callback: collections.abc.Callable) -> dict:
        ...
    def render_to_dir(self, text: typing.Any, out_dir: str, unique_id: str = '', compression: typing.SupportsInt | typing.SupportsIndex = 3) -> list[str]:
        ...
    @property
    def config(self) -> RenderConfig:
        ...
class Tokenizer:
    """
    Hugging Face tokenizer.json byte-level BPE (GLM-4 / GLM-4.1V, Qwen2, GPT-2 family), encoding and
    decoding exactly as the `tokenizers` library. Thread-safe; heavy calls release the GIL.
    
        tok = glyph.Tokenizer.from_file("tokenizer.json")
        ids = tok.encode("Hello, 世界", add_special_tokens=False)
        tok.decode(ids)          # 'Hello, 世界'
        tok.count(long_text)     # number of tokens, no id list built
    """
    @staticmethod
    def from_file(path: str, config_path: str = '') -> Tokenizer:
        """
        Load tokenizer.json (and tokenizer_config.json beside it, or config_path).
        """
    @staticmethod
    def from_str(tokenizer_json: str, config_json: str = '') -> Tokenizer:
        ...
    def __repr__(self) -> str:
        ...
    def count(self, text: typing.Any, add_special_tokens: bool = False) -> int:
        """
        Number of tokens encode() would return (special tokens excluded by default).
        """
    def count_batch(self, texts: collections.abc.Sequence, add_special_tokens: bool = False, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> list[int]:
        ...
    def decode(self, ids: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], skip_special_tokens: bool = False) -> str:
        ...
    def decode_batch(self, ids: collections.abc.Sequence[collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]], skip_special_tokens: bool = False, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> list:
        ...
    def encode(self, text: typing.Any, add_special_tokens: bool = True) -> list:
        ...
    def encode_batch(self, texts: collections.abc.Sequence, add_special_tokens: bool = True, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> list:
        ...
    def get_vocab_size(self) -> int:
        ...
    def id_to_token(self, id: typing.SupportsInt | typing.SupportsIndex) -> str | None:
        ...
    def is_special(self, id: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    def pre_tokenize(self, text: typing.Any) -> list[str]:
        """
        Byte-level pieces of the pre-tokenizer (added tokens kept whole).
        """
    def special_token_id(self, name: str) -> int:
        """
        Id of a special token by text ('<|image|>') or role ('eos_token').
        """
    def token_to_id(self, token: str) -> int | None:
        ...
    def tokenize(self, text: typing.Any, add_special_tokens: bool = False) -> list[str]:
        ...
    @property
    def chat_template(self) -> str:
        ...
    @property
    def special_tokens(self) -> list[str]:
        ...
    @property
    def vocab_size(self) -> int:
        ...
class SearchSpace:
    """
    The rendering configs a search may visit: discrete genes (ranges with steps, choices, grouped
    choices such as colour themes) and constraints. See docs/search.md for the JSON format.
    
        space = glyph.SearchSpace.builtin()          # the paper's pre-training style space
        space = glyph.SearchSpace.from_file("space.json")
    """
    @staticmethod
    def builtin(fonts: collections.abc.Sequence[str] = []) -> SearchSpace:
        ...
    @staticmethod
    def from_file(path: str) -> SearchSpace:
        ...
    @staticmethod
    def from_json(json: str, base_dir: str = '') -> SearchSpace:
        ...
    def __len__(self) -> int:
        ...
    def __repr__(self) -> str:
        ...
    def decode(self, genome: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> RenderConfig:
        ...
    def describe(self, genome: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> str:
        ...
    def encode(self, config: RenderConfig) -> tuple[list[int], list[str]]:
        """
        config -> (nearest genome, notes on what moved)
        """
    def feasible(self, genome: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> tuple[bool, str]:
        """
        -> (ok, reason)
        """
    def sample(self, seed: typing.SupportsInt | typing.SupportsIndex = 0) -> list[int]:
        ...
    def to_json(self, indent: typing.SupportsInt | typing.SupportsIndex = 2) -> str:
        ...
    @property
    def base(self) -> RenderConfig:
        ...
    @property
    def cardinality(self) -> float:
        ...
    @property
    def gene_names(self) -> list[str]:
        ...
    @property
    def gene_sizes(self) -> list[int]:
        ...
class SearchOptions:
    """
    Options of a ConfigSearch (see docs/search.md).
    """
    objective: str
    text_token_counter: str
    def __init__(self) -> None:
        ...
    @property
    def advisor_candidates(self) -> int:
        ...
    @advisor_candidates.setter
    def advisor_candidates(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def budget(self) -> int:
        ...
    @budget.setter
    def budget(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def crossover_rate(self) -> float:
        ...
    @crossover_rate.setter
    def crossover_rate(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def generations(self) -> int:
        ...
    @generations.setter
    def generations(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def max_attempts(self) -> int:
        ...
    @max_attempts.setter
    def max_attempts(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def min_accuracy(self) -> float | None:
        ...
    @min_accuracy.setter
    def min_accuracy(self, arg0: typing.SupportsFloat | typing.SupportsIndex | None) -> None:
        ...
    @property
    def min_compression(self) -> float | None:
        ...
    @min_compression.setter
    def min_compression(self, arg0: typing.SupportsFloat | typing.SupportsIndex | None) -> None:
        ...
    @property
    def mutation_rate(self) -> float:
        ...
    @mutation_rate.setter
    def mutation_rate(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def mutation_scale(self) -> float:
        ...
    @mutation_scale.setter
    def mutation_scale(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def patience(self) -> int:
        ...
    @patience.setter
    def patience(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def population(self) -> int:
        ...
    @population.setter
    def population(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def seed(self) -> int:
        ...
    @seed.setter
    def seed(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def threads(self) -> int:
        ...
    @threads.setter
    def threads(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def tolerance(self) -> float:
        ...
    @tolerance.setter
    def tolerance(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def tournament(self) -> int:
        ...
    @tournament.setter
    def tournament(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class Individual:
    """
    One evaluated config of a search.
    """
    def __repr__(self) -> str:
        ...
    @property
    def accuracy(self) -> float:
        ...
    @property
    def compression(self) -> float:
        ...
    @property
    def details(self) -> str:
        ...
    @property
    def error(self) -> str:
        ...
    @property
    def generation(self) -> int:
        ...
    @property
    def genome(self) -> list[int]:
        ...
    @property
    def ok(self) -> bool:
        ...
    @property
    def origin(self) -> str:
        ...
    @property
    def rank(self) -> int:
        ...
    @property
    def violation(self) -> float:
        ...
class GenerationLog:
    @property
    def advisor_accepted(self) -> int:
        ...
    @property
    def advisor_analysis(self) -> str:
        ...
    @property
    def advisor_notes(self) -> list[str]:
        ...
    @property
    def best_accuracy(self) -> float:
        ...
    @property
    def best_compression(self) -> float:
        ...
    @property
    def duplicates(self) -> int:
        ...
    @property
    def evaluated(self) -> int:
        ...
    @property
    def failed(self) -> int:
        ...
    @property
    def generation(self) -> int:
        ...
    @property
    def population(self) -> list[Individual]:
        ...
    @property
    def rejected(self) -> int:
        ...
class _SearchResult:
    def best_config(self) -> RenderConfig:
        ...
    @property
    def best(self) -> Individual | None:
        ...
    @property
    def evaluated(self) -> list[Individual]:
        ...
    @property
    def front(self) -> list[Individual]:
        ...
    @property
    def generations(self) -> list[GenerationLog]:
        ...
    @property
    def options(self) -> SearchOptions:
        ...
    @property
    def space(self) -> SearchSpace:
        ...
    @property
    def stop_reason(self) -> str:
        ...
class _ConfigSearch:
    def __init__(self, space: SearchSpace, options: SearchOptions) -> None:
        ...
    def add_seed(self, config: RenderConfig) -> list[str]:
        ...
    def run(self, fitness: typing.Any = None, samples: typing.Any = None, evaluator: typing.Any = None, text_tokens: typing.Any = None, advisor: typing.Any = None, log_path: str = '', progress: typing.Any = None) -> _SearchResult:
        ...
    @property
    def options(self) -> SearchOptions:
        ...
    @property
    def space(self) -> SearchSpace:
        ...
def advisor_prompt(space: SearchSpace, options: SearchOptions, evaluated: collections.abc.Sequence[Individual], population: collections.abc.Sequence[Individual], generation: typing.SupportsInt | typing.SupportsIndex) -> str:
    ...
def approx_text_tokens(text: str) -> int:
    """
    Approximate GLM-4 text tokens (chars/4, CJK/1.5) when no tokenizer is given.
    """
def build_glm4v_prompt(page_visual_tokens: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], question: str, prompt_template: str = '[gMASK]<sop><|user|>\n{images}{question}<|assistant|>\n') -> str:
    """
    GLM-4.1V user turn: per page <|begin_of_image|> + N x <|image|> + <|end_of_image|>, then the question and <|assistant|>.
    """
def build_glm4v_prompt_ids(tokenizer: Tokenizer, page_visual_tokens: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], question: str, prompt_template: str = '[gMASK]<sop><|user|>\n{images}{question}<|assistant|>\n') -> list[int]:
    ...
def char_accuracy(hypothesis: str, reference: str) -> float:
    """
    1 - Levenshtein(hypothesis, reference) / len(reference), clamped to [0, 1] (code points).
    """
def default_font_path() -> str:
    ...
def find_cjk_font() -> str:
    ...
def hardware_threads() -> int:
    ...
def parse_advisor_reply(reply: str, space: SearchSpace, fallback: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], max_candidates: typing.SupportsInt | typing.SupportsIndex = 4) -> dict:
    ...
def smart_resize(height: typing.SupportsInt | typing.SupportsIndex, width: typing.SupportsInt | typing.SupportsIndex) -> tuple[int, int]:
    """
    GLM-4.1V smart_resize -> (height, width)
    """
def visual_tokens(height: typing.SupportsInt | typing.SupportsIndex, width: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    GLM-4.1V visual tokens for an image of this size
    """
GLM4V_PROMPT_TEMPLATE: str = '[gMASK]<sop><|user|>\n{images}{question}<|assistant|>\n'
