// The search's JSON-lines log, which doubles as a replay cache for resuming: a header, then
// "eval", "advisor", "generation" and "result" records.
#pragma once

#include <cstdint>

#include <fstream>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "glyph/search/search.h"

namespace glyph::detail {

using json = nlohmann::ordered_json;

// One individual as the log and the results write it.
json scores_json(const Individual& ind, const SearchSpace& space);
// The options that define a search (for_identity: without those that only decide when to stop,
// which a resumed run may extend).
json options_json(const SearchOptions& o, bool for_identity);

// The JSON-lines log: header, then "eval", "advisor" and "generation" records. On resume the eval
// and advisor records replay, so the rerun retraces the logged run without re-evaluating.
class SearchLog {
 public:
  struct Cached {
    bool ok = false;
    Scores scores;
    std::string error;
  };
  struct AdvisorRecord {
    bool ok = false;
    std::string reply, error;
  };

  // Opens (and on resume reads) the log at `path`; an empty path logs nothing.
  SearchLog(const std::string& path, const json& header);
  bool resumed() const { return resumed_; }
  int last_generation() const { return last_generation_; }

  const Cached* find(const Genome& g) const {
    auto it = evals_.find(g);
    return it == evals_.end() ? nullptr : &it->second;
  }
  const AdvisorRecord* advisor(int generation) const {
    auto it = advisor_.find(generation);
    return it == advisor_.end() ? nullptr : &it->second;
  }

  void write(const json& record);

 private:
  void load(const json& header);

  std::string path_;
  std::ofstream out_;
  std::uintmax_t size_ = 0;  // bytes of whole records in the file
  std::mutex mutex_;
  bool resumed_ = false;
  int last_generation_ = -1;
  std::map<Genome, Cached> evals_;
  std::map<int, AdvisorRecord> advisor_;
};

}  // namespace glyph::detail
