// SearchSpace: the rendering configs a ConfigSearch may visit, as a list of discrete genes.
//
//   auto space = glyph::SearchSpace::builtin();              // the paper's pre-training style space
//   auto space = glyph::SearchSpace::from_file("space.json");  // or your own (docs/search.md)
//   std::mt19937_64 rng(0);
//   glyph::Genome g = space.sample(rng);                     // feasible, or throws SearchError
//   glyph::RenderConfig cfg = space.decode(g);
//
// Every gene is discrete (a numeric range with a step, or a list of choices), so genomes are small
// integer vectors: exact de-duplication and caching, and runs that replay bit for bit.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "glyph/render/config.h"

namespace glyph {

// One gene: an index into `size()` options.
struct Gene {
  enum class Kind { kRange, kChoice };
  std::string name;  // unique; the config key for single-key genes
  Kind kind = Kind::kChoice;

  // kRange: values min, min + step, ..., <= max, written to `key`. With `relative_to` set, the
  // value is an offset added to that (numeric) key, e.g. line-height = font-size + {0, 0.5, ..}.
  std::string key;
  double min = 0, max = 0, step = 1;
  std::string relative_to;

  // kChoice: each option is a JSON object {config-key: json value, ...} (one key for plain genes,
  // several for coherent groups such as colour themes), stored as compact JSON text.
  std::vector<std::string> options;
  std::vector<std::string> labels;  // optional short names (themes), same length as options

  // Relative weights for sampling the initial population (empty: uniform). Mutation ignores them.
  std::vector<double> weights;

  int size() const;
  double value(int index) const;  // kRange only
};

// lhs op rhs + offset, where lhs/rhs are numeric config keys, derived quantities ("font-px" =
// font-size * dpi / 72, "frame-width", "frame-height", "leading") or (rhs only) numbers.
struct Constraint {
  std::string lhs, op, rhs;  // op: ">=", "<=", ">", "<"
  double offset = 0;
  std::string describe() const;
};

using Genome = std::vector<int>;

namespace detail {
struct CompiledSpace;  // the genes' options parsed once (cpp/src/search/compiled.h)
}

class SearchSpace {
 public:
  SearchSpace() = default;
  // `base` gives every key no gene sets (e.g. newline-markup); defaults to RenderConfig().
  SearchSpace(std::vector<Gene> genes, std::vector<Constraint> constraints,
              RenderConfig base = RenderConfig());

  // The paper's pre-training style space (DESIGN.md section 6), restricted to fonts found on this
  // machine (`fonts`: empty -> the shipped DejaVu Sans plus DejaVu Serif/Mono if installed).
  static SearchSpace builtin(std::vector<std::string> fonts = {});
  // {"base": {...config...}, "genes": [...], "constraints": [...]}; see docs/search.md.
  static SearchSpace from_json(const std::string& json, const std::string& base_dir = "");
  static SearchSpace from_file(const std::string& path);
  std::string to_json(int indent = 2) const;

  const std::vector<Gene>& genes() const { return genes_; }
  const std::vector<Constraint>& constraints() const { return constraints_; }
  const RenderConfig& base() const { return base_; }
  // Number of distinct genomes (saturates at 2^63).
  double cardinality() const;

  RenderConfig decode(const Genome& g) const;
  // Nearest genome to `config` (exact options where they exist); `notes` gets one line per key
  // that had to move.
  Genome encode(const RenderConfig& config, std::vector<std::string>* notes = nullptr) const;
  // Checks ranges, the space's constraints and RenderConfig::validate(). On false, `reason` says
  // which rule failed.
  bool feasible(const Genome& g, std::string* reason = nullptr) const;
  // A feasible genome drawn with the genes' weights (rejection sampling, bounded; SearchError when
  // the space looks empty).
  Genome sample(std::mt19937_64& rng) const;
  // Per gene: the option's value as JSON (plain genes) or label/object (groups), for logs.
  std::string describe(const Genome& g) const;

  // For the library's own use: every option parsed into the config fields it sets.
  const detail::CompiledSpace& compiled() const { return *compiled_; }

 private:
  std::vector<Gene> genes_;
  std::vector<Constraint> constraints_;
  RenderConfig base_;
  std::shared_ptr<const detail::CompiledSpace> compiled_;
};

// Numeric value of a config key or derived quantity (RenderConfig::number); throws SearchError
// on an unknown name.
double config_number(const RenderConfig& c, const std::string& name);

// Deterministic helpers on a caller-owned engine (portable: no std::*_distribution, whose output
// differs between standard libraries).
std::uint64_t rng_below(std::mt19937_64& rng, std::uint64_t n);  // uniform in [0, n)
double rng_uniform(std::mt19937_64& rng);                        // [0, 1)
double rng_normal(std::mt19937_64& rng);                         // N(0, 1)

}  // namespace glyph
