"""Where an attention output differs from its reference, in one line of JSON.

A kernel that is wrong on the GPU machine is wrong in a pattern: some rows of every query tile,
one half of the head dimension, the last partial tile, one head in a group, rows or columns
swapped, nothing written. `error_structure` names that pattern, so that one device run says
what to look at (the op tests put it in their failure message, the GPU check's probe prints it
for every form a backend gets wrong) and the next session can debug by reading.
"""
from __future__ import annotations

import json

import torch


def ranges(values, limit=8):
    """Sorted distinct ints as 'a-b,c,...' (at most `limit` runs, then '+Nruns'; no spaces)."""
    vals = sorted({int(v) for v in values})
    runs = []
    for v in vals:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:limit])
    return text + (f",+{len(runs) - limit}runs" if len(runs) > limit else "")


def _residues(pos, mod):
    got = torch.unique(pos % mod)
    return "all" if got.numel() == mod else ranges(got.tolist())


def error_structure(out, ref, starts=None, tol=0.05, tiles=(64, 128), probes=3):
    """The pattern of the elements of `out` [tokens, heads, d] that are not finite or differ
    from `ref` by more than `tol` x max|ref|. `starts`: the first row of each packed sequence
    (cu_seqlens without its last entry; default one sequence), so that row positions are counted
    within their sequence, as the kernels tile them. Returns {"bad": 0} when nothing differs,
    else:
      bad, of (the element count), nonfinite (NaN/inf: unwritten, with poisoned outputs),
      zero_rows (wrong rows that are all zeros: written as if they saw no key);
      seqs, heads, cols: which sequences, heads and head-dim columns hold a wrong element;
      pos: row positions within their sequence; pos%64 / pos%128: those positions within a
      query tile ('all': every residue); tile64 / tile128: which query tiles;
      first: [row, head, col, got, want];
      rows: for the first few wrong (row, head), the (row, head) of `ref` of the same sequence
      nearest to it, and the distances to it and to its own reference row (relative to the
      row's norm): a wrong row that equals another row is a row or head mix-up;
      col_map: c -> c' where column c of the wrong rows is nearest column c' of the reference
      (a column mix-up); listed only for columns far nearer another column than their own."""
    o = out.detach().float().cpu().reshape(out.shape[0], -1, out.shape[-1])
    r = ref.detach().float().cpu().reshape(o.shape)
    scale = r.abs().max().clamp_min(1e-12)
    finite = torch.isfinite(o)
    bad = ~finite | ((o - r).abs() > tol * scale)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return {"bad": 0}
    tokens = o.shape[0]
    starts_t = torch.tensor([0] if starts is None else [int(s) for s in starts], dtype=torch.long)
    rows = torch.arange(tokens)
    seq = torch.searchsorted(starts_t, rows, right=True) - 1
    pos = rows - starts_t[seq]
    bad_rows = bad.any(2)  # [tokens, heads]
    bad_tok = bad_rows.any(1)
    bad_pos = pos[bad_tok]
    o_safe = torch.where(finite, o, torch.zeros_like(o))
    d = {"bad": n_bad, "of": bad.numel(), "nonfinite": int((~finite).sum()),
         "zero_rows": int((bad_rows & (o_safe.abs().amax(2) == 0)).sum()),
         "seqs": ranges(torch.unique(seq[bad_tok]).tolist()),
         "heads": ranges(torch.nonzero(bad_rows.any(0)).flatten().tolist()),
         "cols": ranges(torch.nonzero(bad.any(0).any(0)).flatten().tolist()),
         "pos": ranges(bad_pos.tolist())}
    for t in tiles:
        d[f"pos%{t}"] = _residues(bad_pos, t)
        d[f"tile{t}"] = ranges(torch.unique(bad_pos // t).tolist())
    t0, h0, c0 = (int(x) for x in torch.nonzero(bad)[0])
    d["first"] = [t0, h0, c0, round(float(o[t0, h0, c0]), 4), round(float(r[t0, h0, c0]), 4)]
    # Nearest reference rows of the same sequence, over every head: a mix-up shows as a
    # distance near 0 to another (row, head) and a large one to its own.
    near = []
    for t, h in torch.nonzero(bad_rows)[:probes].tolist():
        if not bool(finite[t, h].all()):
            near.append([t, h, "nonfinite"])
            continue
        s = int(seq[t])
        lo = int(starts_t[s])
        hi = int(starts_t[s + 1]) if s + 1 < len(starts_t) else tokens
        cand = r[lo:hi]  # [rows, heads, d]
        norm = float(r[t, h].norm().clamp_min(1e-12))
        dist = (cand - o_safe[t, h]).norm(dim=2)
        k = int(dist.argmin())
        near.append([t, h, lo + k // dist.shape[1], k % dist.shape[1],
                     round(float(dist.flatten()[k]) / norm, 3),
                     round(float((o_safe[t, h] - r[t, h]).norm()) / norm, 3)])
    d["rows"] = near
    # Columns: each wrong column of the wrong rows against every reference column.
    sel = bad_rows & finite.all(2)
    if bool(sel.any()):
        ow, rw = o_safe[sel], r[sel]  # [n, d]
        cols = torch.nonzero(bad[sel].any(0)).flatten()
        dist = torch.cdist(ow.T[cols], rw.T)  # [wrong cols, d]
        best = dist.min(1)
        own = dist.gather(1, cols[:, None])[:, 0]
        # only clear matches: far nearer another column than its own
        moved = [(int(c), int(b)) for c, b, e, o in zip(cols, best.indices, best.values, own)
                 if int(c) != int(b) and float(e) < 0.1 * float(o)]
        if moved:
            d["col_map"] = ",".join(f"{c}>{b}" for c, b in moved[:16]) + (
                f",+{len(moved) - 16}cols" if len(moved) > 16 else "")
    return d


def describe(out, ref, starts=None, tol=0.05):
    """error_structure as one line of compact JSON (no spaces: one field of a probe line)."""
    return json.dumps(error_structure(out, ref, starts, tol), separators=(",", ":"))
