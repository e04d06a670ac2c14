"""Output formats: how a sample (a conversation of text and image parts) becomes a row, and how
a shard of rows is written (atomically: temporary file + rename, via glyph.io).

* ``llamafactory``: sharegpt-style ``{"messages": [{"role", "content"}], "images": [...]}``, one
  ``<image>`` tag per image in the message text, and the ``dataset_info.json`` entry;
* ``swift``: ms-swift's ``{"messages": [...], "images": [...]}`` with ``<image>`` tags;
* ``parquet``: Hugging Face ``datasets`` / TRL: Parquet with ``messages`` as content blocks
  (``{"type": "image"}``, ``{"type": "text", "text": ...}``) and an ``images`` column of the
  ``datasets.Image`` feature (embedded PNG bytes, or paths).

Each row also has a ``glyph`` column: the sample and record ids, the task, the render config
used (JSON text) and the pages (part, index, char_begin, char_end, visual_tokens).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from ..io import atomic_open, atomic_write

__all__ = ["FORMATS", "make_row", "write_shard", "shard_name", "write_dataset_info"]

FORMATS = ("llamafactory", "swift", "parquet")
_ROLE_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
              "assistant_tag": "assistant", "system_tag": "system"}


def shard_name(fmt: str, k: int) -> str:
    return f"train-{k:05d}." + ("parquet" if fmt == "parquet" else "jsonl")


def _image_ref(page: Any, out_dir: str, image_paths: str) -> str:
    return page.rel if image_paths == "relative" else os.path.abspath(page.path)


def make_row(sample: Dict[str, Any], meta: Dict[str, Any], fmt: str, out_dir: str,
             image_paths: str = "relative", image_tag: str = "<image>") -> Dict[str, Any]:
    """A row of ``fmt`` for one sample. Images are listed in the order their tags appear."""
    images: List[str] = []
    pages: List[Dict[str, Any]] = []
    messages = []
    for m in sample["messages"]:
        if fmt == "parquet":
            blocks = []
            for part in m["content"]:
                if part["type"] == "image":
                    p = part["page"]
                    images.append(_image_ref(p, out_dir, image_paths))
                    pages.append(_page_meta(p))
                    blocks.append({"type": "image", "text": None})
                else:
                    blocks.append({"type": "text", "text": part["text"]})
            messages.append({"role": m["role"], "content": blocks})
        else:
            s = []
            for part in m["content"]:
                if part["type"] == "image":
                    p = part["page"]
                    images.append(_image_ref(p, out_dir, image_paths))
                    pages.append(_page_meta(p))
                    s.append(image_tag)
                else:
                    s.append(part["text"])
            messages.append({"role": m["role"], "content": "".join(s)})
    glyph_meta = dict(meta)
    glyph_meta["pages"] = pages
    return {"messages": messages, "images": images, "glyph": glyph_meta}


def _page_meta(p: Any) -> Dict[str, Any]:
    return {"part": p.part, "page": p.index, "char_begin": p.char_begin, "char_end": p.char_end,
            "visual_tokens": p.visual_tokens}


def row_bytes(row: Dict[str, Any]) -> int:
    return len(json.dumps(row, ensure_ascii=False).encode("utf-8"))


def _parquet_schema():
    import pyarrow as pa

    block = pa.struct([("type", pa.string()), ("text", pa.string())])
    message = pa.struct([("role", pa.string()), ("content", pa.list_(block))])
    page = pa.struct([("part", pa.string()), ("page", pa.int64()), ("char_begin", pa.int64()),
                      ("char_end", pa.int64()), ("visual_tokens", pa.int64())])
    meta = pa.struct([("id", pa.string()), ("record_id", pa.string()), ("task", pa.string()),
                      ("config", pa.string()), ("pages", pa.list_(page))])
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    features = {
        "messages": [{"role": {"dtype": "string", "_type": "Value"},
                      "content": [{"type": {"dtype": "string", "_type": "Value"},
                                   "text": {"dtype": "string", "_type": "Value"}}]}],
        "images": [{"_type": "Image"}],
        "glyph": {"id": {"dtype": "string", "_type": "Value"},
                  "record_id": {"dtype": "string", "_type": "Value"},
                  "task": {"dtype": "string", "_type": "Value"},
                  "config": {"dtype": "string", "_type": "Value"},
                  "pages": [{k: {"dtype": t, "_type": "Value"} for k, t in
                             (("part", "string"), ("page", "int64"), ("char_begin", "int64"),
                              ("char_end", "int64"), ("visual_tokens", "int64"))}]},
    }
    # datasets reads this metadata and decodes the images column as datasets.Image
    hf = json.dumps({"info": {"features": features}})
    return pa.schema([("messages", pa.list_(message)), ("images", pa.list_(image)), ("glyph", meta)],
                     metadata={"huggingface": hf})


def write_shard(path: str, rows: List[Dict[str, Any]], fmt: str, out_dir: str,
                embed_images: bool = False) -> None:
    """All rows of one shard, written atomically."""
    if fmt != "parquet":
        with atomic_open(path, "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    table_rows = []
    for r in rows:
        imgs = []
        for ref in r["images"]:
            full = ref if os.path.isabs(ref) else os.path.join(out_dir, ref)
            if embed_images:
                with open(full, "rb") as f:
                    imgs.append({"bytes": f.read(), "path": os.path.basename(ref)})
            else:
                imgs.append({"bytes": None, "path": ref})
        table_rows.append({"messages": r["messages"], "images": imgs, "glyph": r["glyph"]})
    table = pa.Table.from_pylist(table_rows, schema=_parquet_schema())
    with atomic_open(path, "wb") as f:
        pq.write_table(table, f)


def write_dataset_info(out_dir: str, fmt: str, name: str, data_dir: str = "data") -> Optional[str]:
    """LLaMA-Factory's dataset_info.json entry (merged into an existing file); the images are
    relative to the dataset folder (LLaMA-Factory's media_dir default)."""
    if fmt != "llamafactory":
        return None
    path = os.path.join(out_dir, "dataset_info.json")
    info: Dict[str, Any] = {}
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            info = {}
    info[name] = {"file_name": data_dir, "formatting": "sharegpt",
                  "columns": {"messages": "messages", "images": "images"}, "tags": dict(_ROLE_TAGS)}
    atomic_write(path, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return path
