// The field table behind RenderConfig: one entry per config key with its JSON codec, numeric
// accessor and validation range. Loading, saving, set/get, number(), validate() and the Python
// attributes all go through it, so a new key is one entry here (and a member in config.h).
// Private to the library; the search uses it to apply gene options it parsed once.
#pragma once

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "glyph/render/config.h"
#include "render/markup.h"

namespace glyph::config {

using Json = nlohmann::ordered_json;

// Allowed numeric values [lo, hi], each end open or closed. NaN and infinities never pass.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  bool lo_open = false;
  double hi = std::numeric_limits<double>::infinity();
  bool hi_open = false;
  bool check = false;  // false: no range check at all (non-numeric keys)
  bool contains(double v) const;
  std::string describe() const;  // "must be > 0", "must be between 18 and 1200", ...
};

struct Field {
  ConfigField info;
  // Reads `value` (already parsed JSON) into the config; throws ConfigError naming the key.
  void (*load)(RenderConfig& c, const Json& value, const Field& self, const std::string& base_dir);
  Json (*value)(const RenderConfig& c);   // the member as JSON (null for unset optionals)
  Json (*saved)(const RenderConfig& c);   // what to_json() writes (e.g. the effective leading)
  double (*number)(const RenderConfig& c);  // nullptr unless the key is numeric
  Range range;                              // checked by validate() on number()
};

const std::vector<Field>& fields();
const Field* find_field(std::string_view key);  // nullptr when unknown
// The field of `key`, or ConfigError "unknown config key '...' (known keys: ...)".
const Field& field(std::string_view key);

// What set() does after parsing the JSON text.
inline void apply(RenderConfig& c, const Field& f, const Json& value,
                  const std::string& base_dir = "") {
  f.load(c, value, f, base_dir);
}

// RenderConfig::validate(), returning the newline markup it parsed on the way (the Renderer
// keeps it, so the markup is parsed once per Renderer).
NewlineMarkup validate(const RenderConfig& c);

}  // namespace glyph::config
