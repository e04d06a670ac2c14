// Byte-level BPE's character mapping (GPT-2's bytes_to_unicode) and the strict UTF-8 check
// `tokenizers` applies to its input.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace glyph::tok {

// Byte offset of the first invalid UTF-8 sequence, or npos. Surrogates, overlongs and code
// points above U+10FFFF are invalid, as in Python and Rust.
std::size_t invalid_utf8_at(std::string_view s);

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100.. in order.
const std::array<char32_t, 256>& byte_to_char();

// The byte-level form of raw bytes (each byte as its character, UTF-8 encoded).
std::string byte_level(std::string_view raw);

}  // namespace glyph::tok
