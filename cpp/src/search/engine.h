// The genetic loop behind ConfigSearch::run: (mu + lambda) survival ranked by pareto.h, tournament
// selection, per-gene crossover and mutation, the advisor step, and the log (log.h).
#pragma once

#include <string>
#include <vector>

#include "glyph/search/search.h"

namespace glyph::detail {

SearchResult run_search(const SearchSpace& space, const SearchOptions& options,
                        const std::vector<Genome>& seeds, const FitnessFn& fitness,
                        const Advisor& advisor, const std::string& log_path,
                        const ProgressFn& progress);

}  // namespace glyph::detail
