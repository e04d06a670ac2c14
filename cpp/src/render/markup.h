// Newline markup: what a '\n' of the source text becomes (Glyph's `newline-markup`).
#pragma once

#include <string>
#include <string_view>

#include "glyph/render/config.h"

namespace glyph {

struct NewlineMarkup {
  enum class Kind { kBreak, kInline };
  Kind kind = Kind::kBreak;
  std::u32string text;  // kInline: the text drawn in place of the newline
  Rgb color;            // kInline: its colour
  bool has_color = false;
};

// "<br/>" (also "<br>", "<br />") -> forced line break;
// "<font color=\"#RRGGBB\">TEXT</font>" -> TEXT drawn inline in that colour (XML entities in TEXT
// are decoded). Anything else throws ConfigError naming 'newline-markup'.
NewlineMarkup parse_newline_markup(std::string_view markup);

}  // namespace glyph
