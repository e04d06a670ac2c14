#include "glyph/common/error.h"

// The hierarchy is header-only; this unit anchors glyph_core so every part links one library.
namespace glyph {
namespace detail {
const char* error_anchor() { return "glyph::Error"; }
}  // namespace detail
}  // namespace glyph
