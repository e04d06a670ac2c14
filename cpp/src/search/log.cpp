#include "search/log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/check.h"

namespace fs = std::filesystem;

namespace glyph::detail {

json scores_json(const Individual& ind, const SearchSpace& space) {
  json j;
  j["genome"] = ind.genome;
  j["config"] = json::parse(space.describe(ind.genome));
  j["origin"] = ind.origin;
  j["generation"] = ind.generation;
  j["ok"] = ind.ok;
  if (ind.ok) {
    j["accuracy"] = ind.scores.accuracy;
    j["compression"] = ind.scores.compression;
  } else {
    j["error"] = ind.error;
  }
  return j;
}

json options_json(const SearchOptions& o, bool for_identity) {
  json j;
  j["population"] = o.population;
  if (!for_identity) {
    // These only decide when to stop; a resumed run may extend them.
    j["generations"] = o.generations;
    j["budget"] = o.budget;
    j["patience"] = o.patience;
    j["threads"] = o.threads;
  }
  j["tolerance"] = o.tolerance;
  j["seed"] = o.seed;
  j["objective"] = o.objective;
  j["min_accuracy"] = o.min_accuracy ? json(*o.min_accuracy) : json(nullptr);
  j["min_compression"] = o.min_compression ? json(*o.min_compression) : json(nullptr);
  j["tournament"] = o.tournament;
  j["crossover_rate"] = o.crossover_rate;
  j["mutation_rate"] = o.mutation_rate;
  j["mutation_scale"] = o.mutation_scale;
  j["advisor_candidates"] = o.advisor_candidates;
  j["max_attempts"] = o.max_attempts;
  j["text_token_counter"] = o.text_token_counter;
  if (!o.evaluation.empty()) j["evaluation"] = o.evaluation;  // absent: logs from before it
  return j;
}

SearchLog::SearchLog(const std::string& path, const json& header) : path_(path) {
  if (path_.empty()) return;
  std::error_code ec;
  GLYPH_CHECK(!fs::is_directory(path_, ec), IoError,
              "search log '{}' is a folder (give a file, e.g. {}/search.jsonl)", path_, path_);
  if (fs::exists(path_, ec) && fs::file_size(path_, ec) > 0) load(header);
  if (!fs::path(path_).parent_path().empty())
    fs::create_directories(fs::path(path_).parent_path(), ec);
  out_.open(path_, std::ios::binary | std::ios::app);
  GLYPH_CHECK(out_.good(), IoError, "cannot write search log '{}': {}", path_,
              std::strerror(errno));
  size_ = fs::file_size(path_, ec);
  if (ec) size_ = 0;
  if (!resumed_) write(header);
}

void SearchLog::write(const json& record) {
  if (path_.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string line = record.dump() + '\n';
  errno = 0;
  out_ << line;
  out_.flush();  // a killed run loses at most the line being written
  if (!out_.good()) {
    const int err = errno;
    // Disk full or a file size limit: cut the partial line off, so the log holds whole records
    // and a rerun resumes from them.
    out_.close();
    std::error_code ec;
    fs::resize_file(path_, size_, ec);
    GLYPH_THROW(IoError, "cannot write search log '{}': {} (the records before are intact)",
                path_, err ? std::strerror(err) : "write failed");
  }
  size_ += line.size();
}

void SearchLog::load(const json& header) {
  std::ifstream in(path_, std::ios::binary);
  GLYPH_CHECK(in.good(), IoError, "cannot read search log '{}'", path_);
  std::string line;
  std::size_t good_bytes = 0, line_no = 0;
  bool truncated = false;
  while (std::getline(in, line)) {
    ++line_no;
    bool complete = !in.eof();  // the last line of a killed run may lack its newline
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception&) {
      GLYPH_CHECK(!complete || in.peek() == EOF, SearchError,
                  "search log '{}' line {} is not JSON (not a log, or corrupted)", path_,
                  line_no);
      truncated = true;
      break;
    }
    if (!complete) {
      truncated = true;  // parsed, but without its newline: rewrite it cleanly
      break;
    }
    good_bytes += line.size() + 1;
    if (line_no == 1) {
      GLYPH_CHECK(j.value("type", "") == "header", SearchError,
                  "search log '{}' does not start with a header", path_);
      GLYPH_CHECK(j["identity"] == header["identity"], SearchError,
                  "search log '{}' belongs to a different search (space, seeds, options, "
                  "samples or evaluator differ); remove it or use another path",
                  path_);
      resumed_ = true;
      continue;
    }
    std::string type = j.value("type", "");
    if (type == "eval") {
      Cached c;
      c.ok = j.value("ok", false);
      if (c.ok) {
        c.scores.accuracy = j.at("accuracy").get<double>();
        c.scores.compression = j.at("compression").get<double>();
        if (j.contains("details")) c.scores.details = j["details"].dump();
      } else {
        c.error = j.value("error", "");
      }
      evals_[j.at("genome").get<Genome>()] = c;
    } else if (type == "advisor") {
      AdvisorRecord r;
      r.ok = j.value("ok", false);
      r.reply = j.value("reply", "");
      r.error = j.value("error", "");
      advisor_[j.at("generation").get<int>()] = r;
    } else if (type == "generation") {
      last_generation_ = std::max(last_generation_, j.at("generation").get<int>());
    }
  }
  in.close();
  if (truncated) fs::resize_file(path_, good_bytes);
  if (!resumed_) fs::resize_file(path_, 0);  // only a torn header: start afresh
}

}  // namespace glyph::detail
