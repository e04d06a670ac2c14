#include "tokenizer/bpe.h"

#include <limits>
#include <queue>

namespace glyph::tok {

void MergeMap::reserve(std::size_t n) {
  std::size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  std::vector<Entry> old;
  old.swap(slots_);
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  size_ = 0;
  for (const Entry& e : old) {
    if (e.key != kEmpty)
      insert(static_cast<std::int32_t>(e.key >> 32), static_cast<std::int32_t>(e.key), e.rank,
             e.id);
  }
}

void MergeMap::insert(std::int32_t a, std::int32_t b, std::int32_t rank, std::int32_t id) {
  if ((size_ + 1) * 2 > slots_.size()) reserve(size_ + 1 > 8 ? size_ * 2 : 16);
  std::uint64_t key = make_key(a, b);
  std::size_t i = hash(key) & mask_;
  while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
  if (slots_[i].key == kEmpty) ++size_;
  slots_[i] = Entry{key, rank, id};
}

namespace {
constexpr std::int32_t kNoRank = std::numeric_limits<std::int32_t>::max();
// Words up to this many symbols are merged by rescanning an array (no heap, cache-friendly);
// longer ones use the priority queue so a 1 MB word stays O(n log n).
constexpr std::size_t kSmallWord = 48;
}  // namespace

void BpeModel::encode_word(std::string_view word, std::vector<std::int32_t>* out) const {
  std::vector<std::int32_t> syms;
  syms.reserve(word.size());
  bool prev_unk = false;
  for (unsigned char b : word) {
    std::int32_t id = byte_id[b];
    if (id >= 0) {
      syms.push_back(id);
      prev_unk = false;
    } else if (unk_id >= 0) {
      if (!(fuse_unk && prev_unk)) syms.push_back(unk_id);
      prev_unk = true;
    }
  }
  if (syms.size() > 1) {
    if (syms.size() <= kSmallWord)
      merge_small(&syms);
    else
      merge_large(&syms);
  }
  out->insert(out->end(), syms.begin(), syms.end());
}

void BpeModel::merge_small(std::vector<std::int32_t>* s) const {
  std::vector<std::int32_t>& syms = *s;
  std::int32_t ranks[kSmallWord];
  std::int32_t ids[kSmallWord];
  std::size_t n = syms.size();
  auto fill = [&](std::size_t i) {
    const MergeMap::Entry* e = merges.find(syms[i], syms[i + 1]);
    ranks[i] = e ? e->rank : kNoRank;
    ids[i] = e ? e->id : -1;
  };
  for (std::size_t i = 0; i + 1 < n; ++i) fill(i);
  while (n > 1) {
    std::size_t best = 0;
    std::int32_t best_rank = kNoRank;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      if (ranks[i] < best_rank) {
        best_rank = ranks[i];
        best = i;
      }
    }
    if (best_rank == kNoRank) break;
    syms[best] = ids[best];
    for (std::size_t i = best + 1; i + 1 < n; ++i) {
      syms[i] = syms[i + 1];
      if (i + 1 < n - 1) {
        ranks[i] = ranks[i + 1];
        ids[i] = ids[i + 1];
      }
    }
    --n;
    if (best > 0) fill(best - 1);
    if (best + 1 < n) fill(best);
  }
  syms.resize(n);
}

void BpeModel::merge_large(std::vector<std::int32_t>* s) const {
  std::vector<std::int32_t>& syms = *s;
  const std::int32_t n = static_cast<std::int32_t>(syms.size());
  std::vector<std::int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (std::int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Cand {
    std::int32_t rank, pos, id;
    bool operator>(const Cand& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> queue;
  for (std::int32_t i = 0; i + 1 < n; ++i) {
    if (const MergeMap::Entry* e = merges.find(syms[i], syms[i + 1]))
      queue.push({e->rank, i, e->id});
  }
  while (!queue.empty()) {
    Cand c = queue.top();
    queue.pop();
    // Stale entries: the left symbol was absorbed, or the pair it recorded has changed.
    if (!alive[c.pos] || next[c.pos] < 0) continue;
    std::int32_t right = next[c.pos];
    const MergeMap::Entry* e = merges.find(syms[c.pos], syms[right]);
    if (!e || e->id != c.id) continue;
    syms[c.pos] = c.id;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    if (prev[c.pos] >= 0) {
      std::int32_t p = prev[c.pos];
      if (const MergeMap::Entry* pe = merges.find(syms[p], syms[c.pos]))
        queue.push({pe->rank, p, pe->id});
    }
    if (next[c.pos] >= 0) {
      if (const MergeMap::Entry* ne = merges.find(syms[c.pos], syms[next[c.pos]]))
        queue.push({ne->rank, c.pos, ne->id});
    }
  }
  std::vector<std::int32_t> out;
  for (std::int32_t i = 0; i >= 0; i = next[i]) out.push_back(syms[i]);
  syms.swap(out);
}

}  // namespace glyph::tok
