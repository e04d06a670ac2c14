// Shared by the libFuzzer targets in tests/fuzz (see docs/reliability.md, "Fuzzing").
//
// A target feeds one input to one parser or pipeline stage. The rules every target applies:
// - bad input must end in a glyph::Error (the project's documented errors, each naming the key,
//   file or value); any other exception escaping is a finding (FUZZ_FAIL aborts, so libFuzzer
//   saves the input);
// - what the stage promises about good input (round trips, bounds, counts) is checked with
//   FUZZ_EXPECT, so silent wrong answers are findings too, not only crashes;
// - ASan/UBSan (the fuzz build) catch memory and undefined-behaviour errors underneath.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "glyph/common/error.h"

#define FUZZ_FAIL(...)                                               \
  do {                                                               \
    std::fprintf(stderr, "FUZZ FAILURE at %s:%d: ", __FILE__, __LINE__); \
    std::fprintf(stderr, __VA_ARGS__);                               \
    std::fprintf(stderr, "\n");                                      \
    std::abort();                                                    \
  } while (0)

#define FUZZ_EXPECT(cond, ...)                             \
  do {                                                     \
    if (!(cond)) FUZZ_FAIL("expected " #cond ": " __VA_ARGS__); \
  } while (0)

namespace glyph_fuzz {

// Runs `f`; a glyph::Error is the accepted way to refuse input, anything else is a finding.
template <class F>
bool accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const glyph::Error&) {
    return false;
  } catch (const std::exception& e) {
    FUZZ_FAIL("non-glyph exception escaped: %s", e.what());
  } catch (...) {
    FUZZ_FAIL("unknown exception escaped");
  }
}

// Consumes bytes from the front of the input (for targets that read a few parameters first).
struct Input {
  const std::uint8_t* data;
  std::size_t size;
  std::uint8_t byte(std::uint8_t fallback = 0) {
    if (size == 0) return fallback;
    --size;
    return *data++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
  std::string_view rest() const {
    return {reinterpret_cast<const char*>(data), size};
  }
};

}  // namespace glyph_fuzz
