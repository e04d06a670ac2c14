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

void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

}  // namespace glyph
