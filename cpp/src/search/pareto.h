// NSGA-II style ranking of evaluated configs: constrained domination (feasible before
// infeasible, by violation), non-dominated fronts, crowding distance.
#pragma once

#include <limits>
#include <vector>

#include "glyph/search/search.h"

namespace glyph::detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The objectives in use (both, or the one named by options.objective), higher is better.
std::vector<double> objectives(const SearchOptions& o, const Individual& ind);
bool dominates(const std::vector<double>& a, const std::vector<double>& b);
// How far `ind` misses the constraints (relative shortfall summed; 0: feasible, inf: failed).
double violation(const SearchOptions& o, const Individual& ind);
// Ranks `pool` in place and sorts it best first: feasible by Pareto front then crowding (larger
// first), then infeasible by violation, failures last. Ties keep the pool's order (stable sort),
// which is deterministic.
void rank_pool(const SearchOptions& o, std::vector<Individual>& pool);

}  // namespace glyph::detail
