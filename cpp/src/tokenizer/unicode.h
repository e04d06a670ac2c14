// The Unicode classes of the split regexes, at Oniguruma's Unicode version (16.0), not the
// (older) one of the system's PCRE2: \p{L}, \p{N} and \s (White_Space); and \w for added tokens.
#pragma once

#include <cstdint>
#include <string>

namespace glyph::tok {

enum CharClass : std::uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 4 };

// Class bits of a code point (0 for anything above U+10FFFF).
std::uint8_t char_class(char32_t cp);

// PCRE2 class-body text (no brackets) for \p{L} or \p{N}, e.g. "\x{41}-\x{5A}...".
std::string pcre2_ranges(CharClass which);

// The White_Space code points as a PCRE2 class body.
const char* pcre2_white_space();

// Rust regex's \w (Alphabetic, M, Nd, Pc, Join_Control; Unicode 16): what `tokenizers` counts as
// a word character beside an added token with single_word.
bool is_word_char(char32_t cp);

}  // namespace glyph::tok
