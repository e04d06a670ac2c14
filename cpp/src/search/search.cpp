// ConfigSearch's public face: option checks, seeds, and the run (engine.cpp).
#include "glyph/search/search.h"

#include <cmath>

#include "common/check.h"
#include "search/engine.h"

namespace glyph {

RenderConfig SearchResult::best_config() const {
  GLYPH_CHECK(best.has_value(), SearchError,
              "the search found no feasible config (every evaluation failed or missed the "
              "constraint)");
  return space.decode(best->genome);
}

ConfigSearch::ConfigSearch(SearchSpace space, SearchOptions options)
    : space_(std::move(space)), options_(std::move(options)) {
  const auto& o = options_;
  GLYPH_CHECK(o.population >= 2, SearchError, "search option population: must be >= 2, got {}",
              o.population);
  GLYPH_CHECK(o.generations >= 1, SearchError, "search option generations: must be >= 1, got {}",
              o.generations);
  GLYPH_CHECK(o.budget >= 0, SearchError, "search option budget: must be >= 0, got {}", o.budget);
  GLYPH_CHECK(o.patience >= 0, SearchError,
              "search option patience: must be >= 0 (0: never stop early), got {}", o.patience);
  GLYPH_CHECK(o.threads >= 0, SearchError,
              "search option threads: must be >= 0 (0: all cores), got {}", o.threads);
  GLYPH_CHECK(o.objective == "pareto" || o.objective == "accuracy" || o.objective == "compression",
              SearchError,
              "search option objective: must be pareto, accuracy or compression, got \"{}\"",
              o.objective);
  GLYPH_CHECK(o.tournament >= 1, SearchError, "search option tournament: must be >= 1, got {}",
              o.tournament);
  GLYPH_CHECK(o.crossover_rate >= 0 && o.crossover_rate <= 1, SearchError,
              "search option crossover_rate: must be in [0, 1], got {}", o.crossover_rate);
  GLYPH_CHECK(o.mutation_rate <= 1, SearchError,
              "search option mutation_rate: must be <= 1, got {}", o.mutation_rate);
  GLYPH_CHECK(o.mutation_scale > 0 && std::isfinite(o.mutation_scale), SearchError,
              "search option mutation_scale: must be > 0, got {}", o.mutation_scale);
  GLYPH_CHECK(o.advisor_candidates >= 0, SearchError,
              "search option advisor_candidates: must be >= 0, got {}", o.advisor_candidates);
  GLYPH_CHECK(o.max_attempts >= 1, SearchError,
              "search option max_attempts: must be >= 1, got {}", o.max_attempts);
  GLYPH_CHECK(!o.min_accuracy || std::isfinite(*o.min_accuracy), SearchError,
              "search option min_accuracy: must be finite");
  GLYPH_CHECK(!o.min_compression || std::isfinite(*o.min_compression), SearchError,
              "search option min_compression: must be finite");
}

void ConfigSearch::add_seed(const RenderConfig& config, std::vector<std::string>* notes) {
  seeds_.push_back(space_.encode(config, notes));
}

SearchResult ConfigSearch::run(const FitnessFn& fitness, const Advisor& advisor,
                               const std::string& log_path, const ProgressFn& progress) const {
  GLYPH_CHECK(static_cast<bool>(fitness), SearchError, "ConfigSearch::run: no fitness function");
  return detail::run_search(space_, options_, seeds_, fitness, advisor, log_path, progress);
}

}  // namespace glyph
