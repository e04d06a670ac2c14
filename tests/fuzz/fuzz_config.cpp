// RenderConfig JSON: load, validate, and for every config that loads, the JSON round trip
// (to_json -> from_json gives the same config) and set/get on every key.
#include <cmath>
#include <string>

#include "fuzz_common.h"
#include "glyph/render/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  glyph::RenderConfig cfg;
  if (!glyph_fuzz::accepts([&] { cfg = glyph::RenderConfig::from_json(text, "/glyph-fuzz-base"); }))
    return 0;
  const bool valid = glyph_fuzz::accepts([&] { cfg.validate(); });
  std::string saved;
  if (!glyph_fuzz::accepts([&] { saved = cfg.to_json(); }))
    FUZZ_FAIL("to_json refused a loaded config");
  glyph::RenderConfig again;
  if (!glyph_fuzz::accepts([&] { again = glyph::RenderConfig::from_json(saved); }))
    FUZZ_FAIL("from_json refused what to_json wrote: %s", saved.c_str());
  FUZZ_EXPECT(again.to_json() == saved, "round trip changed the config:\n%s\n%s", saved.c_str(),
              again.to_json().c_str());
  if (valid) FUZZ_EXPECT(glyph_fuzz::accepts([&] { again.validate(); }), "round trip broke validity");
  // get() then set() of the same text must be the identity on every key.
  for (const auto& key : glyph::RenderConfig::keys()) {
    std::string v;
    FUZZ_EXPECT(glyph_fuzz::accepts([&] { v = cfg.get(key); }), "get(%s) refused", key.c_str());
    glyph::RenderConfig copy = cfg;
    FUZZ_EXPECT(glyph_fuzz::accepts([&] { copy.set(key, v); }), "set(%s, %s) refused what get gave",
                key.c_str(), v.c_str());
    FUZZ_EXPECT(copy.get(key) == v, "set/get of %s changed %s", key.c_str(), v.c_str());
  }
  // Derived numbers never throw for a valid config and are finite.
  if (valid) {
    for (const char* n : {"leading", "page-width", "page-height", "font-px", "frame-width",
                          "frame-height", "text-width"}) {
      double x = 0;
      FUZZ_EXPECT(glyph_fuzz::accepts([&] { x = cfg.number(n); }), "number(%s) refused", n);
      FUZZ_EXPECT(std::isfinite(x), "number(%s) = %g", n, x);
    }
  }
  return 0;
}
