#include "glyph/search/space.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "glyph/common/file.h"
#include "render/config_fields.h"
#include "search/compiled.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace glyph {

// ---------------------------------------------------------------- randomness

std::uint64_t rng_below(std::mt19937_64& rng, std::uint64_t n) {
  if (n <= 1) return 0;
  // Rejection keeps it unbiased; the threshold is the largest multiple of n that fits.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                              std::numeric_limits<std::uint64_t>::max() % n;
  for (;;) {
    std::uint64_t v = rng();
    if (v < limit) return v % n;
  }
}

double rng_uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double rng_normal(std::mt19937_64& rng) {
  // Box-Muller; one draw per call keeps the stream position independent of any cached state.
  double u1 = rng_uniform(rng), u2 = rng_uniform(rng);
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// ---------------------------------------------------------------- genes

int Gene::size() const {
  if (kind == Kind::kChoice) return static_cast<int>(options.size());
  return static_cast<int>(std::floor((max - min) / step + 1e-9)) + 1;
}

double Gene::value(int index) const {
  double v = min + index * step;
  // Snap away binary noise (0.1 * 3) so logs and configs read 0.3.
  return std::round(v * 1e9) / 1e9;
}

std::string Constraint::describe() const {
  std::string r = rhs;
  if (offset != 0) r += fmt::format(" {} {}", offset > 0 ? "+" : "-", std::fabs(offset));
  return fmt::format("{} {} {}", lhs, op, r);
}

double config_number(const RenderConfig& c, const std::string& name) {
  try {
    return c.number(name);
  } catch (const ConfigError& e) {
    throw SearchError(e.what());
  }
}

namespace {

bool is_number_text(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

void apply_option(RenderConfig& c, const detail::CompiledOption& option) {
  for (const auto& a : option.set) config::apply(c, *a.field, a.value);
}

bool holds(double lhs, const std::string& op, double rhs) {
  if (op == ">=") return lhs >= rhs - 1e-9;
  if (op == "<=") return lhs <= rhs + 1e-9;
  if (op == ">") return lhs > rhs;
  if (op == "<") return lhs < rhs;
  return false;
}

double rhs_value(const RenderConfig& c, const Constraint& k) {
  double v = 0;
  if (!is_number_text(k.rhs, &v)) v = config_number(c, k.rhs);
  return v + k.offset;
}

}  // namespace

// ---------------------------------------------------------------- SearchSpace

SearchSpace::SearchSpace(std::vector<Gene> genes, std::vector<Constraint> constraints,
                         RenderConfig base)
    : genes_(std::move(genes)), constraints_(std::move(constraints)), base_(std::move(base)) {
  GLYPH_CHECK(!genes_.empty(), SearchError, "search space: no genes");
  auto compiled = std::make_shared<detail::CompiledSpace>();
  std::set<std::string> names;
  for (auto& g : genes_) {
    GLYPH_CHECK(!g.name.empty(), SearchError, "search space: a gene has no name");
    GLYPH_CHECK(names.insert(g.name).second, SearchError, "search space: gene '{}' given twice",
                g.name);
    detail::CompiledGene cg;
    if (g.kind == Gene::Kind::kRange) {
      if (g.key.empty()) g.key = g.name;
      GLYPH_CHECK(std::isfinite(g.min) && std::isfinite(g.max) && std::isfinite(g.step) &&
                      g.step > 0 && g.max >= g.min,
                  SearchError, "search space gene '{}': bad range min {} max {} step {}", g.name,
                  g.min, g.max, g.step);
      GLYPH_CHECK((g.max - g.min) / g.step < 1e6, SearchError,
                  "search space gene '{}': more than a million steps", g.name);
      RenderConfig probe = base_;
      try {
        if (!g.relative_to.empty()) config_number(probe, g.relative_to);
        config_number(probe, g.key);
        cg.key = &config::field(g.key);
        config::apply(probe, *cg.key, json(g.value(0)));
      } catch (const Error& e) {
        GLYPH_THROW(SearchError, "search space gene '{}': {}", g.name, e.what());
      }
    } else {
      GLYPH_CHECK(!g.options.empty(), SearchError, "search space gene '{}': no choices", g.name);
      GLYPH_CHECK(g.labels.empty() || g.labels.size() == g.options.size(), SearchError,
                  "search space gene '{}': {} labels for {} choices", g.name, g.labels.size(),
                  g.options.size());
      for (const auto& o : g.options) {
        RenderConfig probe = base_;
        detail::CompiledOption co;
        try {
          co.object = json::parse(o);
          GLYPH_CHECK(co.object.is_object() && !co.object.empty(), SearchError,
                      "choice {} is not a key object", o);
          for (auto it = co.object.begin(); it != co.object.end(); ++it)
            co.set.push_back({&config::field(it.key()), it.value()});
          apply_option(probe, co);
        } catch (const std::exception& e) {
          GLYPH_THROW(SearchError, "search space gene '{}': choice {}: {}", g.name, o, e.what());
        }
        cg.options.push_back(std::move(co));
      }
    }
    if (!g.weights.empty()) {
      GLYPH_CHECK(static_cast<int>(g.weights.size()) == g.size(), SearchError,
                  "search space gene '{}': {} weights for {} values", g.name, g.weights.size(),
                  g.size());
      double sum = 0;
      for (double w : g.weights) {
        GLYPH_CHECK(std::isfinite(w) && w >= 0, SearchError,
                    "search space gene '{}': weight {} is not >= 0", g.name, w);
        sum += w;
      }
      GLYPH_CHECK(sum > 0, SearchError, "search space gene '{}': weights sum to 0", g.name);
    }
    compiled->genes.push_back(std::move(cg));
  }
  for (const auto& k : constraints_) {
    GLYPH_CHECK(k.op == ">=" || k.op == "<=" || k.op == ">" || k.op == "<", SearchError,
                "search space constraint '{}': op must be >=, <=, > or <", k.describe());
    try {
      config_number(base_, k.lhs);
      rhs_value(base_, k);
    } catch (const Error& e) {
      GLYPH_THROW(SearchError, "search space constraint '{}': {}", k.describe(), e.what());
    }
  }
  compiled_ = std::move(compiled);
}

double SearchSpace::cardinality() const {
  double n = 1;
  for (const auto& g : genes_) n = std::min(n * g.size(), 9.2e18);
  return n;
}

RenderConfig SearchSpace::decode(const Genome& g) const {
  GLYPH_CHECK(g.size() == genes_.size(), SearchError, "genome has {} genes, the space {}",
              g.size(), genes_.size());
  RenderConfig c = base_;
  // Absolute genes first, so relative ones (line-height = font-size + x) see their reference.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < genes_.size(); ++i) {
      const Gene& gene = genes_[i];
      bool relative = gene.kind == Gene::Kind::kRange && !gene.relative_to.empty();
      if (relative != (pass == 1)) continue;
      GLYPH_CHECK(g[i] >= 0 && g[i] < gene.size(), SearchError,
                  "genome: gene '{}' index {} outside [0, {})", gene.name, g[i], gene.size());
      const detail::CompiledGene& cg = compiled_->genes[i];
      if (gene.kind == Gene::Kind::kChoice) {
        apply_option(c, cg.options[g[i]]);
      } else {
        double v = gene.value(g[i]);
        if (relative) v += config_number(c, gene.relative_to);
        config::apply(c, *cg.key, json(v));
      }
    }
  }
  return c;
}

Genome SearchSpace::encode(const RenderConfig& config, std::vector<std::string>* notes) const {
  Genome g(genes_.size(), 0);
  for (std::size_t i = 0; i < genes_.size(); ++i) {
    const Gene& gene = genes_[i];
    if (gene.kind == Gene::Kind::kRange) {
      double target = config_number(config, gene.key);
      if (!gene.relative_to.empty()) target -= config_number(config, gene.relative_to);
      long idx = std::lround((target - gene.min) / gene.step);
      idx = std::clamp<long>(idx, 0, gene.size() - 1);
      g[i] = static_cast<int>(idx);
      if (notes && std::fabs(gene.value(g[i]) - target) > 1e-9)
        notes->push_back(fmt::format("{}: {} is not in the space, using {}", gene.name, target,
                                     gene.value(g[i])));
      continue;
    }
    // Choice: an exact match leaves the config unchanged; otherwise the option with the most keys
    // that match, then (single numeric key) the nearest value.
    const auto& options = compiled_->genes[i].options;
    int best = 0;
    double best_score = -1;
    for (std::size_t o = 0; o < options.size(); ++o) {
      double score = 0;
      for (const auto& a : options[o].set) {
        RenderConfig c = config;
        config::apply(c, *a.field, a.value);
        if (a.field->saved(c) == a.field->saved(config)) {
          score += 1;
        } else if (options[o].set.size() == 1 && a.value.is_number() && a.field->number) {
          const double d = std::fabs(a.value.get<double>() - a.field->number(config));
          score += 0.5 / (1.0 + d);
        }
      }
      if (score > best_score + 1e-12) {
        best_score = score;
        best = static_cast<int>(o);
      }
    }
    g[i] = best;
    if (notes && best_score < static_cast<double>(options[best].set.size()))
      notes->push_back(fmt::format("{}: config value is not in the space, using {}", gene.name,
                                   gene.labels.empty() ? gene.options[best] : gene.labels[best]));
  }
  return g;
}

bool SearchSpace::feasible(const Genome& g, std::string* reason) const {
  auto fail = [&](std::string why) {
    if (reason) *reason = std::move(why);
    return false;
  };
  if (g.size() != genes_.size())
    return fail(fmt::format("genome has {} genes, the space {}", g.size(), genes_.size()));
  for (std::size_t i = 0; i < g.size(); ++i)
    if (g[i] < 0 || g[i] >= genes_[i].size())
      return fail(fmt::format("gene '{}' index {} outside [0, {})", genes_[i].name, g[i],
                              genes_[i].size()));
  RenderConfig c;
  try {
    c = decode(g);
    c.validate();
  } catch (const Error& e) {
    return fail(e.what());
  }
  for (const auto& k : constraints_) {
    double lhs = config_number(c, k.lhs), rhs = rhs_value(c, k);
    if (!holds(lhs, k.op, rhs))
      return fail(fmt::format("constraint {} fails ({} vs {})", k.describe(), lhs, rhs));
  }
  std::error_code ec;
  if (!c.font_path.empty() && !fs::is_regular_file(c.font_path, ec))
    return fail(fmt::format("config key 'font-path': no font file '{}'", c.font_path));
  return true;
}

Genome SearchSpace::sample(std::mt19937_64& rng) const {
  std::string reason;
  for (int attempt = 0; attempt < 10000; ++attempt) {
    Genome g(genes_.size());
    for (std::size_t i = 0; i < genes_.size(); ++i) {
      const Gene& gene = genes_[i];
      if (gene.weights.empty()) {
        g[i] = static_cast<int>(rng_below(rng, gene.size()));
      } else {
        double total = 0;
        for (double w : gene.weights) total += w;
        double u = rng_uniform(rng) * total;
        int k = 0;
        while (k + 1 < gene.size() && u >= gene.weights[k]) u -= gene.weights[k++];
        g[i] = k;
      }
    }
    if (feasible(g, &reason)) return g;
  }
  GLYPH_THROW(SearchError,
              "search space: no feasible config in 10000 random draws (last failure: {})", reason);
}

std::string SearchSpace::describe(const Genome& g) const {
  json out = json::object();
  for (std::size_t i = 0; i < genes_.size() && i < g.size(); ++i) {
    const Gene& gene = genes_[i];
    if (g[i] < 0 || g[i] >= gene.size()) continue;
    if (gene.kind == Gene::Kind::kRange) {
      out[gene.name] = gene.value(g[i]);
    } else if (!gene.labels.empty()) {
      out[gene.name] = gene.labels[g[i]];
    } else {
      const json& opt = compiled_->genes[i].options[g[i]].object;
      out[gene.name] = opt.size() == 1 ? opt.begin().value() : opt;
    }
  }
  return out.dump();
}

// ---------------------------------------------------------------- JSON

SearchSpace SearchSpace::from_json(const std::string& text, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e400
    GLYPH_THROW(SearchError, "search space: invalid JSON: {}", e.what());
  }
  GLYPH_CHECK(j.is_object(), SearchError, "search space: expected a JSON object, got {}",
              j.type_name());
  for (auto it = j.begin(); it != j.end(); ++it)
    GLYPH_CHECK(it.key() == "base" || it.key() == "genes" || it.key() == "constraints" ||
                    it.key() == "comment",
                SearchError, "search space: unknown key '{}' (base, genes, constraints)",
                it.key());
  RenderConfig base = RenderConfig::glyph_default();
  if (j.contains("base")) {
    GLYPH_CHECK(j["base"].is_object(), SearchError, "search space: 'base' must be an object");
    // Keys the base leaves out keep glyph_default's values (its font in particular).
    json b = json::parse(base.to_json(-1));
    for (auto it = j["base"].begin(); it != j["base"].end(); ++it) b[it.key()] = it.value();
    base = RenderConfig::from_json(b.dump(), base_dir);
  }
  GLYPH_CHECK(j.contains("genes") && j["genes"].is_array(), SearchError,
              "search space: 'genes' must be a list");
  std::vector<Gene> genes;
  for (const auto& jg : j["genes"]) {
    GLYPH_CHECK(jg.is_object() && jg.contains("name") && jg["name"].is_string(), SearchError,
                "search space: every gene needs a \"name\", got {}", jg.dump());
    Gene g;
    g.name = jg["name"].get<std::string>();
    auto num = [&](const char* k) {
      GLYPH_CHECK(jg[k].is_number(), SearchError, "search space gene '{}': '{}' must be a number",
                  g.name, k);
      return jg[k].get<double>();
    };
    for (auto it = jg.begin(); it != jg.end(); ++it) {
      static const std::set<std::string> kKnown = {"name",  "key",   "min",     "max",
                                                   "step",  "choices", "labels", "weights",
                                                   "relative-to"};
      GLYPH_CHECK(kKnown.count(it.key()), SearchError, "search space gene '{}': unknown field '{}'",
                  g.name, it.key());
    }
    auto str = [&](const char* k) {
      GLYPH_CHECK(jg[k].is_string(), SearchError, "search space gene '{}': '{}' must be a string",
                  g.name, k);
      return jg[k].get<std::string>();
    };
    g.key = jg.contains("key") ? str("key") : g.name;
    if (jg.contains("choices")) {
      g.kind = Gene::Kind::kChoice;
      GLYPH_CHECK(jg["choices"].is_array(), SearchError,
                  "search space gene '{}': 'choices' must be a list", g.name);
      for (const auto& c : jg["choices"]) {
        json opt = c.is_object() ? c : json{{g.key, c}};
        // Fonts named relative to the space file resolve against its folder.
        if (opt.contains("font-path") && opt["font-path"].is_string() && !base_dir.empty()) {
          fs::path p(opt["font-path"].get<std::string>());
          if (!p.is_absolute()) opt["font-path"] = (fs::path(base_dir) / p).lexically_normal().string();
        }
        g.options.push_back(opt.dump());
      }
      if (jg.contains("labels"))
        for (const auto& l : jg["labels"]) g.labels.push_back(l.is_string() ? l.get<std::string>() : l.dump());
    } else {
      GLYPH_CHECK(jg.contains("min") && jg.contains("max"), SearchError,
                  "search space gene '{}': needs 'choices' or 'min'/'max'[/'step']", g.name);
      g.kind = Gene::Kind::kRange;
      g.min = num("min");
      g.max = num("max");
      g.step = jg.contains("step") ? num("step") : 1.0;
      if (jg.contains("relative-to")) g.relative_to = str("relative-to");
    }
    if (jg.contains("weights")) {
      GLYPH_CHECK(jg["weights"].is_array(), SearchError,
                  "search space gene '{}': 'weights' must be a list", g.name);
      for (const auto& w : jg["weights"]) {
        GLYPH_CHECK(w.is_number(), SearchError, "search space gene '{}': weights must be numbers",
                    g.name);
        g.weights.push_back(w.get<double>());
      }
    }
    genes.push_back(std::move(g));
  }
  std::vector<Constraint> constraints;
  if (j.contains("constraints")) {
    GLYPH_CHECK(j["constraints"].is_array(), SearchError,
                "search space: 'constraints' must be a list");
    for (const auto& jc : j["constraints"]) {
      GLYPH_CHECK(jc.is_object() && jc.contains("lhs") && jc.contains("op") && jc.contains("rhs"),
                  SearchError, "search space: a constraint needs lhs, op, rhs: {}", jc.dump());
      // Each field's type is checked: nlohmann's own type_error is not a glyph::Error.
      GLYPH_CHECK(jc["lhs"].is_string() && jc["op"].is_string(), SearchError,
                  "search space constraint: 'lhs' and 'op' must be strings: {}", jc.dump());
      GLYPH_CHECK(jc["rhs"].is_string() || jc["rhs"].is_number(), SearchError,
                  "search space constraint: 'rhs' must be a gene name or a number: {}", jc.dump());
      GLYPH_CHECK(!jc.contains("offset") || jc["offset"].is_number(), SearchError,
                  "search space constraint: 'offset' must be a number: {}", jc.dump());
      Constraint k;
      k.lhs = jc["lhs"].get<std::string>();
      k.op = jc["op"].get<std::string>();
      k.rhs = jc["rhs"].is_number() ? json(jc["rhs"]).dump() : jc["rhs"].get<std::string>();
      if (jc.contains("offset")) k.offset = jc["offset"].get<double>();
      constraints.push_back(std::move(k));
    }
  }
  return SearchSpace(std::move(genes), std::move(constraints), std::move(base));
}

SearchSpace SearchSpace::from_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path, "search space file");
  } catch (const IoError& e) {
    throw SearchError(e.what());  // a space that cannot be read is a search error
  }
  try {
    return from_json(text, fs::absolute(fs::path(path)).parent_path().string());
  } catch (const Error& e) {
    GLYPH_THROW(SearchError, "{}: {}", path, e.what());
  }
}

std::string SearchSpace::to_json(int indent) const {
  json j;
  j["base"] = json::parse(base_.to_json(-1));
  j["genes"] = json::array();
  for (const auto& g : genes_) {
    json jg;
    jg["name"] = g.name;
    if (g.kind == Gene::Kind::kRange) {
      if (g.key != g.name) jg["key"] = g.key;
      jg["min"] = g.min;
      jg["max"] = g.max;
      jg["step"] = g.step;
      if (!g.relative_to.empty()) jg["relative-to"] = g.relative_to;
    } else {
      jg["choices"] = json::array();
      for (const auto& o : compiled_->genes[&g - genes_.data()].options)
        jg["choices"].push_back(o.object);
      if (!g.labels.empty()) jg["labels"] = g.labels;
    }
    if (!g.weights.empty()) jg["weights"] = g.weights;
    j["genes"].push_back(jg);
  }
  j["constraints"] = json::array();
  for (const auto& k : constraints_) {
    json jc{{"lhs", k.lhs}, {"op", k.op}, {"rhs", k.rhs}};
    double v = 0;
    if (is_number_text(k.rhs, &v)) jc["rhs"] = v;
    if (k.offset != 0) jc["offset"] = k.offset;
    j["constraints"].push_back(jc);
  }
  return j.dump(indent);
}

// ---------------------------------------------------------------- the built-in space

SearchSpace SearchSpace::builtin(std::vector<std::string> fonts) {
  if (fonts.empty()) {
    std::string sans = default_font_path();
    if (!sans.empty()) fonts.push_back(sans);
    for (const char* name : {"DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf"}) {
      fs::path p = fs::path("/usr/share/fonts/truetype/dejavu") / name;
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) fonts.push_back(p.string());
    }
  }
  GLYPH_CHECK(!fonts.empty(), SearchError,
              "built-in search space: no font found (set GLYPH_FONT_DIR or pass fonts)");
  auto choice = [](std::string name, std::vector<json> values, std::vector<double> weights = {},
                   std::vector<std::string> labels = {}) {
    Gene g;
    g.name = g.key = std::move(name);
    g.kind = Gene::Kind::kChoice;
    for (auto& v : values) g.options.push_back((v.is_object() ? v : json{{g.key, v}}).dump());
    g.weights = std::move(weights);
    g.labels = std::move(labels);
    return g;
  };
  auto range = [](std::string name, double lo, double hi, double step, std::string rel = "") {
    Gene g;
    g.name = g.key = std::move(name);
    g.kind = Gene::Kind::kRange;
    g.min = lo;
    g.max = hi;
    g.step = step;
    g.relative_to = std::move(rel);
    return g;
  };
  std::vector<Gene> genes;
  // dpi 45-300, favouring 72-120 (paper appendix A).
  genes.push_back(choice("dpi", {45, 60, 72, 84, 96, 108, 120, 150, 200, 300},
                         {1, 1, 4, 3, 4, 2, 3, 1, 0.5, 0.5}));
  // A4, Letter, Legal, A5, B5, A3, B4, Tabloid, and 4:3 / 16:9 portrait pages.
  genes.push_back(choice("page-size",
                         {"595,842", "612,792", "612,1008", "420,595", "499,709", "842,1191",
                          "709,1001", "792,1224", "595,793", "595,1058"},
                         {4, 2, 1, 1, 1, 1, 1, 1, 1, 1},
                         {"A4", "Letter", "Legal", "A5", "B5", "A3", "B4", "Tabloid", "4:3",
                          "16:9"}));
  {
    std::vector<json> fv(fonts.begin(), fonts.end());
    std::vector<std::string> labels;
    for (const auto& f : fonts) labels.push_back(fs::path(f).stem().string());
    genes.push_back(choice("font-path", fv, {}, labels));
  }
  genes.push_back(choice("font-size", {7, 7.5, 8, 9, 9.5, 10, 11, 12, 14}));
  genes.push_back(range("line-height", 0, 3, 0.5, "font-size"));
  genes.push_back(choice("alignment", {"LEFT", "JUSTIFY", "CENTER", "RIGHT"}, {4, 4, 0.5, 0.5}));
  genes.push_back(range("margin-x", 10, 40, 5));
  genes.push_back(range("margin-y", 10, 40, 5));
  genes.push_back(range("first-line-indent", 0, 20, 5));
  genes.push_back(range("left-indent", 0, 10, 5));
  genes.push_back(range("right-indent", 0, 10, 5));
  genes.push_back(range("space-before", 0, 6, 3));
  genes.push_back(range("space-after", 0, 6, 3));
  genes.push_back(range("horizontal-scale", 0.75, 1.0, 0.05));
  {
    auto theme = [](const char* page, const char* para, const char* font) {
      return json{{"page-bg-color", page},
                  {"para-bg-color", para},
                  {"para-border-color", para},
                  {"font-color", font}};
    };
    genes.push_back(choice("theme",
                           {theme("#FFFFFF", "#FFFFFF", "#000000"),
                            theme("#F8F4E8", "#F8F4E8", "#2B2B2B"),
                            theme("#1E1E1E", "#1E1E1E", "#D4D4D4"),
                            theme("#F6F8FA", "#F6F8FA", "#24292E"),
                            theme("#FFFFFF", "#F2F2F2", "#333333")},
                           {4, 1, 1, 1, 1}, {"light", "paper", "dark", "code", "web"}));
  }
  genes.push_back(choice("border",
                         {json{{"border-width", 0}, {"border-padding", 0}},
                          json{{"border-width", 0.5}, {"border-padding", 2}},
                          json{{"border-width", 1}, {"border-padding", 4}}},
                         {4, 1, 1}, {"none", "thin", "boxed"}));
  genes.push_back(choice("newline-markup", {"<br/>", R"(<font color="#FF0000"> \n </font>)"},
                         {3, 1}, {"br", "inline"}));
  genes.push_back(choice("auto-crop-width", {true, false}));
  genes.push_back(choice("auto-crop-last-page", {true, false}, {3, 1}));

  std::vector<Constraint> constraints = {
      {"line-height", ">=", "font-size", 0},
      // Below ~5 px per em no reader (human, OCR or VLM) resolves the glyphs.
      {"font-px", ">=", "5", 0},
      // Margins and indents must leave a usable column: at least ~20 em of text width.
      {"text-width", ">=", "140", 0},
  };
  return SearchSpace(std::move(genes), std::move(constraints), RenderConfig::glyph_default());
}

}  // namespace glyph
