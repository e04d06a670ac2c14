// Private helpers for argument checks: GLYPH_CHECK(cond, ErrorType, "fmt {}", args...).
#pragma once

#include <fmt/format.h>

#include "glyph/common/error.h"

#define GLYPH_CHECK(cond, ErrorType, ...)              \
  do {                                                 \
    if (!(cond)) throw ErrorType(fmt::format(__VA_ARGS__)); \
  } while (0)

#define GLYPH_THROW(ErrorType, ...) throw ErrorType(fmt::format(__VA_ARGS__))
