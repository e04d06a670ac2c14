// The LLM advisor's side of the search: the prompt that shows the history, and the defensive parse
// of whatever comes back.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "search/compiled.h"
#include "glyph/search/search.h"

using json = nlohmann::ordered_json;

namespace glyph {

namespace {

constexpr std::size_t kMaxReplyBytes = 200000;
constexpr std::size_t kMaxAnalysisBytes = 4000;
constexpr int kMaxDepth = 16;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Truncates at a UTF-8 boundary.
std::string clip(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

using detail::CompiledOption;

std::string describe_gene(const Gene& g, const std::vector<CompiledOption>& options) {
  if (g.kind == Gene::Kind::kRange) {
    std::string r = fmt::format("{} to {} in steps of {}", g.value(0), g.value(g.size() - 1), g.step);
    if (!g.relative_to.empty())
      return fmt::format("{} = {} + ({}); answer the resulting {} in points", g.key, g.relative_to,
                         r, g.key);
    return r;
  }
  std::string out = "one of ";
  for (int i = 0; i < g.size(); ++i) {
    if (i) out += ", ";
    const json& opt = options[i].object;
    if (!g.labels.empty()) {
      out += json(g.labels[i]).dump();
      if (opt.size() > 1) out += " " + opt.dump();
    } else {
      out += opt.size() == 1 ? opt.begin().value().dump() : opt.dump();
    }
  }
  return out;
}

// String-aware bracket scan from `start`: returns the index of the bracket that closes the one at
// `start` (npos when none, or always with `whole`, which scans to the end) and the deepest
// nesting seen on the way.
std::size_t scan_brackets(const std::string& s, std::size_t start, int* max_depth,
                          bool whole = false) {
  int depth = 0;
  bool in_string = false, escaped = false;
  *max_depth = 0;
  for (std::size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') *max_depth = std::max(*max_depth, ++depth);
    else if ((c == '}' || c == ']') && --depth == 0 && !whole) return i;
  }
  return std::string::npos;
}

// First balanced {...} or [...] starting at `from`, string-aware; "" if none.
std::string balanced_json(const std::string& s, std::size_t from, int* max_depth) {
  std::size_t start = s.find_first_of("{[", from);
  if (start == std::string::npos) return "";
  std::size_t end = scan_brackets(s, start, max_depth);
  return end == std::string::npos ? "" : s.substr(start, end - start + 1);
}

// Candidate texts to try parsing, best guess first: fenced blocks, then balanced objects.
std::vector<std::string> json_candidates(const std::string& reply) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = reply.find("```", pos)) != std::string::npos) {
    std::size_t body = reply.find('\n', pos);
    std::size_t end = body == std::string::npos ? std::string::npos : reply.find("```", body);
    if (end == std::string::npos) break;
    out.push_back(reply.substr(body + 1, end - body - 1));
    pos = end + 3;
  }
  out.push_back(reply);
  std::size_t from = 0;
  for (int k = 0; k < 8; ++k) {
    std::size_t start = reply.find('{', from);
    if (start == std::string::npos) break;
    int depth = 0;
    std::string b = balanced_json(reply, start, &depth);
    if (b.empty()) break;
    out.push_back(b);
    from = start + b.size();
  }
  return out;
}

bool nesting_ok(const std::string& text) {
  int max_depth = 0;
  scan_brackets(text, 0, &max_depth, /*whole=*/true);
  return max_depth <= kMaxDepth;
}

bool as_number(const json& v, double* out) {
  if (v.is_number()) {
    *out = v.get<double>();
    return std::isfinite(*out);
  }
  if (v.is_string()) {
    // "10", "10pt", " 9.5 " -> number; anything else is not.
    std::string s = v.get<std::string>();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str()) return false;
    std::string rest = lower(std::string(end));
    rest.erase(std::remove_if(rest.begin(), rest.end(), [](char c) { return std::isspace(
                                                                 static_cast<unsigned char>(c)); }),
               rest.end());
    if (!rest.empty() && rest != "pt" && rest != "px" && rest != "dpi") return false;
    *out = d;
    return std::isfinite(d);
  }
  return false;
}

std::string value_text(const json& v) { return clip(v.dump(), 80); }

// Matches a value to a choice gene's option; -1 if none fits. `how` says what was repaired.
int match_choice(const Gene& g, const std::vector<CompiledOption>& options, const json& v,
                 std::string* how) {
  // Exact JSON, then label / string case-insensitively, then basename for fonts, then nearest
  // number.
  std::string vs = v.is_string() ? lower(v.get<std::string>()) : "";
  for (int i = 0; i < g.size(); ++i) {
    const json& opt = options[i].object;
    if (opt == v || (opt.size() == 1 && opt.begin().value() == v)) return i;
    if (v.is_object()) {
      bool all = true;
      for (auto it = v.begin(); it != v.end(); ++it)
        if (!opt.contains(it.key()) || opt[it.key()] != it.value()) all = false;
      if (all && v.size() == opt.size()) return i;
    }
  }
  if (!vs.empty()) {
    for (int i = 0; i < g.size(); ++i) {
      if (!g.labels.empty() && lower(g.labels[i]) == vs) return i;
      const json& opt = options[i].object;
      if (opt.size() == 1 && opt.begin().value().is_string()) {
        std::string o = lower(opt.begin().value().get<std::string>());
        if (o == vs) return i;
        std::size_t slash = o.find_last_of('/');
        std::string base = slash == std::string::npos ? o : o.substr(slash + 1);
        if (base == vs || base == vs + ".ttf" || base == vs + ".otf") {
          *how = "matched by file name";
          return i;
        }
      }
    }
  }
  double x = 0;
  if (as_number(v, &x)) {
    int best = -1;
    double best_d = 0;
    for (int i = 0; i < g.size(); ++i) {
      const json& opt = options[i].object;
      if (opt.size() != 1 || !opt.begin().value().is_number()) continue;
      double d = std::fabs(opt.begin().value().get<double>() - x);
      if (best < 0 || d < best_d) {
        best = i;
        best_d = d;
      }
    }
    if (best >= 0 && best_d > 0)
      *how = fmt::format("{} is not an option, using nearest {}", x,
                         options[best].object.begin().value().dump());
    return best;
  }
  return -1;
}

}  // namespace

std::string advisor_prompt(const SearchSpace& space, const SearchOptions& options,
                           const std::vector<Individual>& evaluated,
                           const std::vector<Individual>& population, int generation) {
  std::string p;
  p += "You are helping tune how long text is rendered into page images for a vision-language "
       "model (Glyph visual-text compression). Each rendering config is scored on two objectives, "
       "both higher-is-better: accuracy (the model's score on validation texts rendered with the "
       "config) and compression (text tokens / visual tokens).\n\n";
  p += "Goal: ";
  if (options.objective == "accuracy") p += "maximise accuracy";
  else if (options.objective == "compression") p += "maximise compression";
  else p += "find the best trade-offs (Pareto front) between accuracy and compression";
  if (options.min_accuracy) p += fmt::format("; accuracy must be >= {}", *options.min_accuracy);
  if (options.min_compression)
    p += fmt::format("; compression must be >= {}", *options.min_compression);
  p += ".\n\nSearch space (key: allowed values):\n";
  const auto& genes = space.genes();
  for (std::size_t i = 0; i < genes.size(); ++i)
    p += "- " + genes[i].name + ": " +
         describe_gene(genes[i], space.compiled().genes[i].options) + "\n";
  if (!space.constraints().empty()) {
    p += "Rules every config must satisfy (font-px = font-size * dpi / 72; text-width = page "
         "width - 2 * margin-x - 12 - indents):\n";
    for (const auto& k : space.constraints()) p += "- " + k.describe() + "\n";
  }
  p += fmt::format("\nGeneration {} done; {} configs evaluated so far.\n", generation - 1,
                   evaluated.size());
  p += "Current population, best first (rank 0 = Pareto front):\n";
  for (std::size_t i = 0; i < population.size() && i < 12; ++i) {
    const auto& ind = population[i];
    if (!ind.ok) continue;
    p += fmt::format("- accuracy {:.4f}, compression {:.3f}, rank {}: {}\n", ind.scores.accuracy,
                     ind.scores.compression, ind.rank, space.describe(ind.genome));
  }
  std::vector<const Individual*> failures;
  for (const auto& ind : evaluated)
    if (!ind.ok) failures.push_back(&ind);
  if (!failures.empty()) {
    p += "Recent failed evaluations:\n";
    for (std::size_t i = failures.size() > 3 ? failures.size() - 3 : 0; i < failures.size(); ++i)
      p += fmt::format("- {}: {}\n", space.describe(failures[i]->genome),
                       clip(failures[i]->error, 200));
  }
  p += fmt::format(
      "\nAnalyse which settings help or hurt each objective, then propose {} new configs that "
      "are likely to improve the front (mutations or crossovers of the good ones). Keys you omit "
      "keep the best config's value. Reply with JSON only, in this form:\n"
      "{{\"analysis\": \"<a few sentences>\", \"candidates\": [{{\"<key>\": <value>, ...}}, "
      "...]}}\n",
      options.advisor_candidates);
  return p;
}

AdvisorReply parse_advisor_reply(const std::string& reply_in, const SearchSpace& space,
                                 const Genome& fallback, int max_candidates) {
  AdvisorReply out;
  std::string reply = reply_in;
  if (reply.size() > kMaxReplyBytes) {
    out.notes.push_back(fmt::format("reply is {} bytes; only the first {} are read", reply.size(),
                                    kMaxReplyBytes));
    reply.resize(kMaxReplyBytes);
  }
  json doc;
  bool parsed = false;
  for (const std::string& text : json_candidates(reply)) {
    if (!nesting_ok(text)) continue;
    try {
      json j = json::parse(text);
      if (j.is_object() || j.is_array()) {
        doc = std::move(j);
        parsed = true;
        break;
      }
    } catch (const json::exception&) {
    }
  }
  if (!parsed) {
    out.notes.push_back("reply discarded: no JSON object found (or nested too deeply): " +
                        clip(reply, 120));
    return out;
  }
  json candidates;
  if (doc.is_array()) {
    candidates = doc;
  } else {
    if (doc.contains("analysis"))
      out.analysis = clip(doc["analysis"].is_string() ? doc["analysis"].get<std::string>()
                                                      : doc["analysis"].dump(),
                          kMaxAnalysisBytes);
    for (const char* k : {"candidates", "configs", "proposals"})
      if (doc.contains(k)) {
        candidates = doc[k];
        break;
      }
    if (candidates.is_null()) {
      out.notes.push_back("reply has no \"candidates\" list");
      return out;
    }
  }
  if (!candidates.is_array()) {
    out.notes.push_back("\"candidates\" is not a list: " + value_text(candidates));
    return out;
  }
  const auto& genes = space.genes();
  std::set<Genome> seen;
  for (std::size_t ci = 0; ci < candidates.size(); ++ci) {
    if (static_cast<int>(ci) >= max_candidates) {
      out.notes.push_back(fmt::format("{} candidates beyond the {} asked for were ignored",
                                      candidates.size() - ci, max_candidates));
      break;
    }
    const json& c = candidates[ci];
    const std::string tag = fmt::format("candidate {}", ci + 1);
    if (!c.is_object()) {
      out.notes.push_back(tag + " discarded: not an object: " + value_text(c));
      continue;
    }
    Genome g = fallback;
    std::vector<std::pair<std::size_t, double>> relative;  // gene, absolute value asked for
    bool changed = false;
    for (auto it = c.begin(); it != c.end(); ++it) {
      const std::string key = it.key();
      const json& v = it.value();
      // The gene with this name, or else the group gene whose options set this key.
      std::size_t gi = genes.size();
      for (std::size_t i = 0; i < genes.size(); ++i)
        if (genes[i].name == key) gi = i;
      if (gi == genes.size())
        for (std::size_t i = 0; i < genes.size(); ++i)
          if (genes[i].kind == Gene::Kind::kRange
                  ? genes[i].key == key
                  : space.compiled().genes[i].options[0].object.contains(key))
            gi = i;
      if (gi == genes.size()) {
        out.notes.push_back(fmt::format("{}: unknown key '{}' dropped", tag, clip(key, 60)));
        continue;
      }
      const Gene& gene = genes[gi];
      if (gene.kind == Gene::Kind::kRange) {
        double x = 0;
        if (!as_number(v, &x)) {
          out.notes.push_back(fmt::format("{}: '{}' = {} is not a number, dropped", tag, key,
                                          value_text(v)));
          continue;
        }
        if (!gene.relative_to.empty()) {
          relative.emplace_back(gi, x);
          changed = true;
          continue;
        }
        long idx = std::lround((x - gene.min) / gene.step);
        long clamped = std::clamp<long>(idx, 0, gene.size() - 1);
        if (std::fabs(gene.value(static_cast<int>(clamped)) - x) > 1e-9)
          out.notes.push_back(fmt::format("{}: '{}' = {} repaired to {}", tag, key, x,
                                          gene.value(static_cast<int>(clamped))));
        g[gi] = static_cast<int>(clamped);
        changed = true;
      } else {
        json want = v;
        if (gene.name != key) want = json{{key, v}};  // one key of a group (e.g. font-color)
        std::string how;
        const auto& options = space.compiled().genes[gi].options;
        int idx = match_choice(gene, options, want, &how);
        if (idx < 0 && gene.name != key) {
          // Partial group value: the option that sets this key to this value.
          for (int i = 0; i < gene.size() && idx < 0; ++i) {
            const json& opt = options[i].object;
            if (opt.contains(key) &&
                (opt[key] == v || (v.is_string() && opt[key].is_string() &&
                                   lower(opt[key].get<std::string>()) == lower(v.get<std::string>()))))
              idx = i;
          }
        }
        if (idx < 0) {
          out.notes.push_back(fmt::format("{}: '{}' = {} is not an allowed value, dropped", tag,
                                          key, value_text(v)));
          continue;
        }
        if (!how.empty()) out.notes.push_back(fmt::format("{}: '{}': {}", tag, key, how));
        g[gi] = idx;
        changed = true;
      }
    }
    // Relative genes (line-height = font-size + x): the advisor gives the absolute value.
    for (auto [gi, x] : relative) {
      const Gene& gene = genes[gi];
      double ref = 0;
      try {
        ref = config_number(space.decode(g), gene.relative_to);
      } catch (const Error&) {
        continue;
      }
      long idx = std::lround((x - ref - gene.min) / gene.step);
      long clamped = std::clamp<long>(idx, 0, gene.size() - 1);
      double got = ref + gene.value(static_cast<int>(clamped));
      if (std::fabs(got - x) > 1e-9)
        out.notes.push_back(fmt::format("{}: '{}' = {} repaired to {} ({} + {})", tag, gene.key,
                                        x, got, gene.relative_to,
                                        gene.value(static_cast<int>(clamped))));
      g[gi] = static_cast<int>(clamped);
    }
    if (!changed) {
      out.notes.push_back(tag + " discarded: no usable keys");
      continue;
    }
    std::string why;
    if (!space.feasible(g, &why)) {
      out.notes.push_back(tag + " discarded: infeasible: " + clip(why, 200));
      continue;
    }
    if (!seen.insert(g).second) {
      out.notes.push_back(tag + " discarded: same as an earlier candidate");
      continue;
    }
    out.candidates.push_back(std::move(g));
  }
  return out;
}

}  // namespace glyph
