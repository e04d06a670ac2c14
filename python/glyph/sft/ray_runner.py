"""The same build on Ray Data: records go through ``map_batches`` to a stateful actor class that
holds a :class:`~glyph.sft.build.Processor` (its renderers, fonts opened once per actor); the
driver gets the journal entries back in input order and writes the journal and shards exactly
as the local path does, so the output is the same for the same seed.

Workers write the PNGs themselves: on a cluster, the output folder must be on storage every node
sees (NFS, a shared mount); the driver writes everything else.
"""
from __future__ import annotations

import json
import os
import pickle
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

__all__ = ["RayProcessor", "ray_results"]

# Records handed to Ray Data per dataset: each dataset starts its actor pool (seconds), so the
# blocks are large, and bounded by bytes so the driver's memory stays bounded too.
_CHUNK_RECORDS = 16384
_CHUNK_BYTES = 256 << 20


class RayProcessor:
    """The map_batches actor: one Processor per actor process."""

    def __init__(self, options: Dict[str, Any], task: Any, out: str, config: Dict[str, Any],
                 style: Optional[str], tokenizer: Optional[str] = None):
        from .pipeline import Options, Processor

        o = Options(**{**options, "task": task})
        self.proc = Processor(o, out, config, style, tokenizer)

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        results: List[str] = []
        for job in batch["job"]:
            rid, index, record = pickle.loads(job)
            results.append(json.dumps(self.proc.process(rid, index, record), ensure_ascii=False))
        return {"result": results}


def _init(address: str, workers: int) -> Any:
    try:
        import ray
    except ImportError:
        from .._core import InputError

        raise InputError("--ray needs Ray: pip install 'glyphcpp[ray]'") from None
    if not ray.is_initialized():
        kw: Dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False,
                              "log_to_driver": False}
        if address in ("local", ""):
            if workers:
                kw["num_cpus"] = workers
            ray.init(**kw)
        else:
            ray.init(address=address, **kw)
    return ray


def ray_results(proc_args: Tuple[Any, str, Dict[str, Any], Optional[str], Optional[str]],
                jobs: Iterable[Any],
                address: str, workers: int = 0) -> Iterator[Dict[str, Any]]:
    """Journal entries for ``jobs`` in order, computed by Ray actors."""
    ray = _init(address, workers)
    from dataclasses import asdict

    o, out, config, style, tokenizer = proc_args
    options = {k: v for k, v in asdict(o).items() if k != "task"}
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    n_actors = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    chunk: List[bytes] = []

    def run(chunk: List[bytes]) -> Iterator[Dict[str, Any]]:
        ds = ray.data.from_items([{"job": j} for j in chunk])
        ds = ds.map_batches(RayProcessor, fn_constructor_kwargs={
            "options": options, "task": o.task, "out": out, "config": config, "style": style,
            "tokenizer": tokenizer},
            batch_size=4, concurrency=min(n_actors, max(1, len(chunk) // 4)), num_cpus=1)
        for row in ds.iter_rows():
            yield json.loads(row["result"])

    size = 0
    for rid, index, record in jobs:
        chunk.append(pickle.dumps((rid, index, record), protocol=pickle.HIGHEST_PROTOCOL))
        size += len(chunk[-1])
        if len(chunk) >= _CHUNK_RECORDS or size >= _CHUNK_BYTES:
            yield from run(chunk)
            chunk, size = [], 0
    if chunk:
        yield from run(chunk)
