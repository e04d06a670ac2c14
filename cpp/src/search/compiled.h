// A SearchSpace's genes with their options parsed once into the config fields they set, so that
// decoding a genome assigns values instead of printing and re-parsing JSON for every gene.
#pragma once

#include <vector>

#include "glyph/search/space.h"
#include "render/config_fields.h"

namespace glyph::detail {

struct Assignment {
  const config::Field* field;
  config::Json value;
};

struct CompiledOption {
  config::Json object;          // the option as written: {config-key: value, ...}
  std::vector<Assignment> set;  // the same, with each key's field looked up
};

struct CompiledGene {
  const config::Field* key = nullptr;   // range genes: the numeric key they write
  std::vector<CompiledOption> options;  // choice genes
};

struct CompiledSpace {
  std::vector<CompiledGene> genes;
};

}  // namespace glyph::detail
