#include "search/pareto.h"

#include <algorithm>
#include <cmath>

namespace glyph::detail {

std::vector<double> objectives(const SearchOptions& o, const Individual& ind) {
  if (o.objective == "accuracy") return {ind.scores.accuracy};
  if (o.objective == "compression") return {ind.scores.compression};
  return {ind.scores.accuracy, ind.scores.compression};
}

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool strictly = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] < b[i]) return false;
    if (a[i] > b[i]) strictly = true;
  }
  return strictly;
}

double violation(const SearchOptions& o, const Individual& ind) {
  if (!ind.ok) return kInf;
  double v = 0;
  // Relative shortfall, so the two constraints weigh alike whatever their scales.
  if (o.min_accuracy && ind.scores.accuracy < *o.min_accuracy)
    v += (*o.min_accuracy - ind.scores.accuracy) / std::max(std::fabs(*o.min_accuracy), 1e-12);
  if (o.min_compression && ind.scores.compression < *o.min_compression)
    v += (*o.min_compression - ind.scores.compression) /
         std::max(std::fabs(*o.min_compression), 1e-12);
  return v;
}

void rank_pool(const SearchOptions& o, std::vector<Individual>& pool) {
  const std::size_t n = pool.size();
  std::vector<std::vector<double>> obj(n);
  std::vector<std::size_t> feasible;
  for (std::size_t i = 0; i < n; ++i) {
    pool[i].violation = violation(o, pool[i]);
    obj[i] = objectives(o, pool[i]);
    if (pool[i].violation == 0) feasible.push_back(i);
  }
  // Fast non-dominated sort over the feasible ones.
  std::vector<int> dominated_by(n, 0);
  std::vector<std::vector<std::size_t>> dominates_list(n);
  for (std::size_t a : feasible)
    for (std::size_t b : feasible) {
      if (a == b) continue;
      if (dominates(obj[a], obj[b])) dominates_list[a].push_back(b);
      else if (dominates(obj[b], obj[a])) ++dominated_by[a];
    }
  std::vector<std::size_t> front;
  for (std::size_t a : feasible)
    if (dominated_by[a] == 0) front.push_back(a);
  int rank = 0;
  while (!front.empty()) {
    // Crowding distance within this front.
    for (std::size_t i : front) pool[i].crowding = 0;
    for (std::size_t m = 0; m < (front.empty() ? 0 : obj[front[0]].size()); ++m) {
      std::vector<std::size_t> f = front;
      std::stable_sort(f.begin(), f.end(),
                       [&](std::size_t a, std::size_t b) { return obj[a][m] < obj[b][m]; });
      double span = obj[f.back()][m] - obj[f.front()][m];
      pool[f.front()].crowding = pool[f.back()].crowding = kInf;
      if (span <= 0) continue;
      for (std::size_t k = 1; k + 1 < f.size(); ++k)
        pool[f[k]].crowding += (obj[f[k + 1]][m] - obj[f[k - 1]][m]) / span;
    }
    std::vector<std::size_t> next;
    for (std::size_t a : front) {
      pool[a].rank = rank;
      for (std::size_t b : dominates_list[a])
        if (--dominated_by[b] == 0) next.push_back(b);
    }
    std::sort(next.begin(), next.end());
    front = std::move(next);
    ++rank;
  }
  for (std::size_t i = 0; i < n; ++i)
    if (pool[i].violation != 0) {
      pool[i].rank = rank;  // behind every feasible front
      pool[i].crowding = 0;
    }
  std::stable_sort(pool.begin(), pool.end(), [](const Individual& a, const Individual& b) {
    if ((a.violation > 0) != (b.violation > 0)) return a.violation == 0;
    if (a.violation > 0) return a.violation < b.violation;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.crowding > b.crowding;
  });
}

}  // namespace glyph::detail
