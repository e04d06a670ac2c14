// The BPE model of `tokenizers` for byte-level vocabularies: a word (raw bytes of one
// pre-token) starts as one symbol per byte and pairs are merged lowest rank first, leftmost
// first among equal ranks -- the order `tokenizers`' priority queue produces.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glyph::tok {

// Open-addressing map (id_a, id_b) -> (rank, merged id): the hot lookup of BPE.
class MergeMap {
 public:
  struct Entry {
    std::uint64_t key = kEmpty;
    std::int32_t rank = 0;
    std::int32_t id = 0;
  };
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

  void reserve(std::size_t n);
  // A later merge of the same pair replaces the earlier one (as `tokenizers`' HashMap does).
  void insert(std::int32_t a, std::int32_t b, std::int32_t rank, std::int32_t id);
  const Entry* find(std::int32_t a, std::int32_t b) const {
    if (slots_.empty()) return nullptr;
    std::uint64_t key = make_key(a, b);
    std::size_t i = hash(key) & mask_;
    while (true) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

 private:
  static std::uint64_t make_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  static std::size_t hash(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }
  std::vector<Entry> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

struct BpeModel {
  // Id of each byte's byte-level character; -1 when the vocabulary lacks it.
  std::array<std::int32_t, 256> byte_id{};
  MergeMap merges;
  std::int32_t unk_id = -1;  // -1: unknown characters are dropped, as `tokenizers` does
  bool fuse_unk = false;

  // Appends the ids of `word` (raw bytes) to `out`.
  void encode_word(std::string_view word, std::vector<std::int32_t>* out) const;

 private:
  void merge_small(std::vector<std::int32_t>* syms) const;
  void merge_large(std::vector<std::int32_t>* syms) const;
};

}  // namespace glyph::tok
