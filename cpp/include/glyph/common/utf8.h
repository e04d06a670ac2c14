// UTF-8 decoding that never fails: invalid sequences become U+FFFD and are counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glyph {

struct DecodedText {
  std::u32string codepoints;
  std::size_t invalid_sequences = 0;  // each replaced by U+FFFD
};

// Decodes UTF-8 as Python's bytes.decode("utf-8", errors="replace") does (one U+FFFD per maximal
// invalid subpart), so code-point offsets match Python string indices.
DecodedText decode_utf8(std::string_view bytes);

// The same decoding for text that arrives in pieces: pieces may be cut anywhere (inside a UTF-8
// sequence too), and the code points are those decode_utf8 gives for the pieces joined.
//
//   Utf8Decoder d;
//   for (auto piece : pieces) d.decode(piece, out);   // appends to `out`
//   d.finish(out);                                    // a sequence cut off by the end: U+FFFD
class Utf8Decoder {
 public:
  void decode(std::string_view bytes, std::u32string& out);
  void finish(std::u32string& out);
  std::size_t invalid_sequences() const { return invalid_; }
  void reset() {
    pending_.clear();
    invalid_ = 0;
  }

 private:
  std::string pending_;  // the start of a sequence the last piece cut off (at most 3 bytes)
  std::size_t invalid_ = 0;
};

// The code point of the UTF-8 sequence at s[i] and its length (*len), for text already known to be
// valid UTF-8 (the tokenizer's inner loops): no checks.
inline char32_t utf8_decode_valid_at(std::string_view s, std::size_t i, std::size_t* len) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  if (c < 0xE0) {
    *len = 2;
    return (static_cast<char32_t>(c & 0x1F) << 6) | (b(1) & 0x3F);
  }
  if (c < 0xF0) {
    *len = 3;
    return (static_cast<char32_t>(c & 0x0F) << 12) | (static_cast<char32_t>(b(1) & 0x3F) << 6) |
           (b(2) & 0x3F);
  }
  *len = 4;
  return (static_cast<char32_t>(c & 0x07) << 18) | (static_cast<char32_t>(b(1) & 0x3F) << 12) |
         (static_cast<char32_t>(b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

}  // namespace glyph
