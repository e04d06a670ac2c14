"""Rendering configs per record: one fixed config, or one drawn from a style distribution.

A style is a ConfigSearch space (``{"base": ..., "genes": [...], "constraints": [...]}``, see
docs/search.md; ``"builtin"`` is the paper's pre-training space) or a JSON of ranges and choices:

    {"base": "config_en.json",                       # optional; else the --config / default
     "font-size": {"min": 8, "max": 12, "step": 1},
     "dpi": [72, 96, 120],                           # a list is a choice
     "alignment": {"choices": ["LEFT", "JUSTIFY"], "weights": [3, 1]},
     "theme": {"choices": [{"font-color": "#000000", "page-bg-color": "#FFFFFF"},
                           {"font-color": "#DDDDDD", "page-bg-color": "#202020"}]}}

The draw for a record depends only on (seed, record id): the same seed gives the same configs
whatever the worker count or order.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict, Mapping, Optional, Union

from .._core import ConfigError, InputError, RenderConfig, SearchSpace
from ..render import as_config

__all__ = ["StyleSampler", "derive_seed", "load_style"]


def derive_seed(seed: int, *parts: str) -> int:
    """A 64-bit seed from the run seed and names (stable across processes and Python versions)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(str(int(seed)).encode())
    for p in parts:
        h.update(b"\0" + p.encode("utf-8", "surrogatepass"))
    return int.from_bytes(h.digest(), "little")


def _ranges_to_space(spec: Mapping[str, Any], base: Dict[str, Any]) -> Dict[str, Any]:
    genes = []
    for key, v in spec.items():
        if key in ("base", "constraints"):
            continue
        gene: Dict[str, Any] = {"name": key}
        if isinstance(v, list):
            v = {"choices": v}
        if not isinstance(v, Mapping):
            raise ConfigError(f"style key {key!r}: give {{'min','max','step'}}, a list of choices "
                              f"or {{'choices': [...]}}, not {v!r}")
        if "choices" in v:
            choices = list(v["choices"])
            if not choices:
                raise ConfigError(f"style key {key!r}: empty choices")
            if all(isinstance(c, Mapping) for c in choices):
                gene["labels"] = [str(c.get("label", i)) for i, c in enumerate(choices)]
                gene["choices"] = [{k: x for k, x in c.items() if k != "label"} for c in choices]
            else:
                gene["choices"] = choices
        elif "min" in v and "max" in v:
            gene.update({"min": v["min"], "max": v["max"], "step": v.get("step", 1)})
            if "relative-to" in v:
                gene["relative-to"] = v["relative-to"]
        else:
            raise ConfigError(f"style key {key!r}: needs 'choices' or 'min' and 'max'")
        if "weights" in v:
            gene["weights"] = v["weights"]
        genes.append(gene)
    if not genes:
        raise ConfigError("style: no keys to sample")
    return {"base": base, "genes": genes, "constraints": list(spec.get("constraints", []))}


def load_style(style: Union[str, Mapping[str, Any], SearchSpace, "os.PathLike[str]"],
               base: RenderConfig) -> SearchSpace:
    """A SearchSpace from a space file/dict, a ranges file/dict, or ``"builtin"``."""
    if isinstance(style, SearchSpace):
        return style
    base_dir = ""
    if isinstance(style, (str, os.PathLike)):
        if os.fspath(style) == "builtin":
            return SearchSpace.builtin()
        path = os.fspath(style)
        try:
            with open(path, encoding="utf-8") as f:
                style = json.load(f)
        except OSError as e:
            raise InputError(f"cannot read style file {path!r}: {e.strerror}") from None
        except ValueError as e:
            raise ConfigError(f"style file {path!r}: invalid JSON: {e}") from None
        base_dir = os.path.dirname(os.path.abspath(path))
    if not isinstance(style, Mapping):
        raise ConfigError("a style is a SearchSpace, a JSON file, a dict, or 'builtin'")
    style = dict(style)
    if "base" in style and isinstance(style["base"], str):
        p = style["base"]
        style["base"] = as_config(p if os.path.isabs(p) or not base_dir else os.path.join(base_dir, p)).to_dict()
    if "genes" not in style:
        style = _ranges_to_space(style, style.get("base") or base.to_dict())
    elif "base" not in style:
        style["base"] = base.to_dict()
    return SearchSpace.from_json(json.dumps(style), base_dir)


class StyleSampler:
    """Config for a record: ``fixed`` always, or a feasible draw from ``space``."""

    def __init__(self, fixed: RenderConfig, space: Optional[SearchSpace] = None, seed: int = 0):
        self.fixed, self.space, self.seed = fixed, space, int(seed)

    def config_for(self, record_id: str) -> Dict[str, Any]:
        if self.space is None:
            return self.fixed.to_dict()
        s = derive_seed(self.seed, "style", record_id)
        why = ""
        for attempt in range(256):  # infeasible draws (constraints, fonts) are redrawn
            genome = self.space.sample((s + attempt) % (1 << 64))
            ok, why = self.space.feasible(genome)
            if ok:
                return self.space.decode(genome).to_dict()
        raise ConfigError(f"style: no feasible config in 256 draws for record {record_id!r} "
                          f"(last reason: {why})")
