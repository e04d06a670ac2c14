#include <catch2/catch.hpp>

#include "glyph/glyph.h"

TEST_CASE("smart_resize matches GLM-4.1V for a full A4 page at 72 dpi") {
  auto s = glyph::smart_resize(842, 595);
  CHECK(s.height == 840);
  CHECK(s.width == 588);
  CHECK(glyph::visual_tokens(842, 595) == 630);
}
