#include "glyph/render/config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "render/markup.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace glyph {

// ---------------------------------------------------------------- colours, alignment

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}
}  // namespace

Rgb Rgb::parse(std::string_view text, std::string_view key) {
  std::string t = trim(text);
  static const std::pair<const char*, Rgb> kNames[] = {
      {"BLACK", {0, 0, 0}},       {"WHITE", {255, 255, 255}}, {"RED", {255, 0, 0}},
      {"GREEN", {0, 128, 0}},     {"BLUE", {0, 0, 255}},      {"GRAY", {128, 128, 128}},
      {"GREY", {128, 128, 128}},  {"YELLOW", {255, 255, 0}},  {"NAVY", {0, 0, 128}},
  };
  for (const auto& [name, rgb] : kNames)
    if (upper(t) == name) return rgb;
  std::string_view h = t;
  if (!h.empty() && h[0] == '#') h.remove_prefix(1);
  bool ok = (h.size() == 6 || h.size() == 3) &&
            std::all_of(h.begin(), h.end(), [](char c) { return hex_digit(c) >= 0; });
  GLYPH_CHECK(ok, ConfigError,
              "config key '{}': bad colour \"{}\" (expected \"#RRGGBB\", \"#RGB\" or a colour name)",
              key, text);
  auto byte = [&](size_t i, size_t n) {
    return n == 2 ? hex_digit(h[i]) * 16 + hex_digit(h[i + 1]) : hex_digit(h[i]) * 17;
  };
  if (h.size() == 6)
    return {static_cast<uint8_t>(byte(0, 2)), static_cast<uint8_t>(byte(2, 2)),
            static_cast<uint8_t>(byte(4, 2))};
  return {static_cast<uint8_t>(byte(0, 1)), static_cast<uint8_t>(byte(1, 1)),
          static_cast<uint8_t>(byte(2, 1))};
}

std::string Rgb::hex() const { return fmt::format("#{:02X}{:02X}{:02X}", r, g, b); }

const char* alignment_name(Alignment a) {
  switch (a) {
    case Alignment::kLeft: return "LEFT";
    case Alignment::kCenter: return "CENTER";
    case Alignment::kRight: return "RIGHT";
    case Alignment::kJustify: return "JUSTIFY";
  }
  return "JUSTIFY";
}

Alignment parse_alignment(std::string_view name, bool strict) {
  std::string u = upper(trim(name));
  if (u == "LEFT") return Alignment::kLeft;
  if (u == "CENTER" || u == "CENTRE") return Alignment::kCenter;
  if (u == "RIGHT") return Alignment::kRight;
  if (u == "JUSTIFY") return Alignment::kJustify;
  GLYPH_CHECK(!strict, ConfigError,
              "config key 'alignment': unknown alignment \"{}\" (expected LEFT, CENTER, RIGHT or "
              "JUSTIFY)",
              name);
  return Alignment::kJustify;  // the reference maps unknown names to JUSTIFY
}

// ---------------------------------------------------------------- page sizes

namespace {
struct NamedSize {
  const char* name;
  double w, h;
};
// reportlab.lib.pagesizes values (points), portrait.
constexpr double kMm = 72.0 / 25.4;
const NamedSize kPageSizes[] = {
    {"A3", 297 * kMm, 420 * kMm},   {"A4", 210 * kMm, 297 * kMm},  {"A5", 148 * kMm, 210 * kMm},
    {"B4", 250 * kMm, 353 * kMm},   {"B5", 176 * kMm, 250 * kMm},  {"LETTER", 612, 792},
    {"LEGAL", 612, 1008},           {"TABLOID", 792, 1224},
};

std::string fmt_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

void parse_page_size(const json& v, RenderConfig& c) {
  if (v.is_array()) {
    GLYPH_CHECK(v.size() == 2 && v[0].is_number() && v[1].is_number(), ConfigError,
                "config key 'page-size': expected \"width,height\" in points, got {}", v.dump());
    c.page_width = v[0].get<double>();
    c.page_height = v[1].get<double>();
    return;
  }
  GLYPH_CHECK(v.is_string(), ConfigError,
              "config key 'page-size': expected \"width,height\" in points, got {}", v.dump());
  std::string s = trim(v.get<std::string>());
  for (const auto& ps : kPageSizes) {
    if (upper(s) == ps.name) {
      c.page_width = ps.w;
      c.page_height = ps.h;
      return;
    }
  }
  auto comma = s.find(',');
  bool ok = comma != std::string::npos;
  double w = 0, h = 0;
  if (ok) {
    std::string a = trim(s.substr(0, comma)), b = trim(s.substr(comma + 1));
    char *ea = nullptr, *eb = nullptr;
    w = std::strtod(a.c_str(), &ea);
    h = std::strtod(b.c_str(), &eb);
    ok = !a.empty() && !b.empty() && *ea == '\0' && *eb == '\0';
  }
  GLYPH_CHECK(ok, ConfigError,
              "config key 'page-size': expected \"width,height\" in points or a name (A4, "
              "Letter, ...), got \"{}\"",
              s);
  c.page_width = w;
  c.page_height = h;
}

double get_number(const json& v, std::string_view key) {
  GLYPH_CHECK(v.is_number(), ConfigError, "config key '{}': expected a number, got {}", key,
              v.dump());
  return v.get<double>();
}

bool get_bool(const json& v, std::string_view key) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer() && (v.get<long long>() == 0 || v.get<long long>() == 1))
    return v.get<long long>() == 1;
  if (v.is_string()) {
    std::string u = upper(v.get<std::string>());
    if (u == "TRUE") return true;
    if (u == "FALSE") return false;
  }
  GLYPH_THROW(ConfigError, "config key '{}': expected true or false, got {}", key, v.dump());
}

std::string get_string(const json& v, std::string_view key) {
  GLYPH_CHECK(v.is_string(), ConfigError, "config key '{}': expected a string, got {}", key,
              v.dump());
  return v.get<std::string>();
}

std::optional<Rgb> get_optional_colour(const json& v, std::string_view key) {
  if (v.is_null()) return std::nullopt;
  return Rgb::parse(get_string(v, key), key);
}

// Relative font paths resolve against the config file's folder. Glyph's own configs say
// "../config/Verdana.ttf" (relative to its scripts folder); when that file does not exist but one
// of the same name sits beside the config, that one is used.
std::string resolve_path(const std::string& path, const std::string& base_dir) {
  if (path.empty() || base_dir.empty()) return path;
  fs::path p(path);
  if (p.is_absolute()) return path;
  fs::path resolved = (fs::path(base_dir) / p).lexically_normal();
  std::error_code ec;
  if (!fs::exists(resolved, ec)) {
    fs::path beside = fs::path(base_dir) / p.filename();
    if (fs::exists(beside, ec)) return beside.lexically_normal().string();
  }
  return resolved.string();
}

void apply_key(RenderConfig& c, std::string_view key, const json& v, const std::string& base_dir) {
  if (key == "page-size") parse_page_size(v, c);
  else if (key == "dpi") c.dpi = get_number(v, key);
  else if (key == "margin-x") c.margin_x = get_number(v, key);
  else if (key == "margin-y") c.margin_y = get_number(v, key);
  else if (key == "font-path") c.font_path = resolve_path(get_string(v, key), base_dir);
  else if (key == "font-size") c.font_size = get_number(v, key);
  else if (key == "line-height") {
    if (v.is_null()) c.line_height.reset();
    else c.line_height = get_number(v, key);
  }
  else if (key == "font-color") c.font_color = Rgb::parse(get_string(v, key), key);
  else if (key == "page-bg-color") c.page_bg_color = Rgb::parse(get_string(v, key), key);
  else if (key == "para-bg-color") c.para_bg_color = get_optional_colour(v, key);
  else if (key == "para-border-color") c.para_border_color = get_optional_colour(v, key);
  else if (key == "alignment") c.alignment = parse_alignment(get_string(v, key), /*strict=*/true);
  else if (key == "horizontal-scale") c.horizontal_scale = get_number(v, key);
  else if (key == "first-line-indent") c.first_line_indent = get_number(v, key);
  else if (key == "left-indent") c.left_indent = get_number(v, key);
  else if (key == "right-indent") c.right_indent = get_number(v, key);
  else if (key == "space-before") c.space_before = get_number(v, key);
  else if (key == "space-after") c.space_after = get_number(v, key);
  else if (key == "border-width") c.border_width = get_number(v, key);
  else if (key == "border-padding") c.border_padding = get_number(v, key);
  else if (key == "auto-crop-width") c.auto_crop_width = get_bool(v, key);
  else if (key == "auto-crop-last-page") c.auto_crop_last_page = get_bool(v, key);
  else if (key == "newline-markup") c.newline_markup = get_string(v, key);
  else if (key == "fallback-font-paths") {
    GLYPH_CHECK(v.is_array(), ConfigError, "config key 'fallback-font-paths': expected a list of "
                "paths, got {}", v.dump());
    c.fallback_font_paths.clear();
    for (const auto& p : v) c.fallback_font_paths.push_back(resolve_path(get_string(p, key), base_dir));
  } else {
    std::string known;
    for (const auto& k : RenderConfig::keys()) known += (known.empty() ? "" : ", ") + k;
    GLYPH_THROW(ConfigError, "unknown config key '{}' (known keys: {})", key, known);
  }
}

json parse_json(std::string_view text, std::string_view what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    GLYPH_THROW(ConfigError, "{}: invalid JSON: {}", what, e.what());
  }
}
}  // namespace

const std::vector<std::string>& RenderConfig::keys() {
  static const std::vector<std::string> k = {
      "page-size",        "dpi",           "margin-x",          "margin-y",
      "font-path",        "font-size",     "line-height",       "font-color",
      "page-bg-color",    "para-bg-color", "para-border-color", "alignment",
      "horizontal-scale", "first-line-indent", "left-indent",   "right-indent",
      "space-before",     "space-after",   "border-width",      "border-padding",
      "auto-crop-width",  "auto-crop-last-page", "newline-markup", "fallback-font-paths"};
  return k;
}

RenderConfig RenderConfig::from_json(std::string_view text, const std::string& base_dir) {
  json j = parse_json(text, "render config");
  GLYPH_CHECK(j.is_object(), ConfigError, "render config: expected a JSON object, got {}",
              j.type_name());
  RenderConfig c;
  for (auto it = j.begin(); it != j.end(); ++it) apply_key(c, it.key(), it.value(), base_dir);
  return c;
}

RenderConfig RenderConfig::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GLYPH_CHECK(in.good(), ConfigError, "cannot open config file '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string dir = fs::absolute(fs::path(path)).parent_path().string();
  try {
    return from_json(ss.str(), dir);
  } catch (const ConfigError& e) {
    GLYPH_THROW(ConfigError, "{}: {}", path, e.what());
  }
}

void RenderConfig::set(std::string_view key, std::string_view json_value) {
  json v = parse_json(json_value, fmt::format("config key '{}'", key));
  apply_key(*this, key, v, "");
}

std::string RenderConfig::to_json(int indent) const {
  json j;
  j["page-size"] = fmt_number(page_width) + "," + fmt_number(page_height);
  j["dpi"] = dpi;
  j["margin-x"] = margin_x;
  j["margin-y"] = margin_y;
  j["font-path"] = font_path;
  j["font-size"] = font_size;
  j["line-height"] = leading();
  j["font-color"] = font_color.hex();
  j["page-bg-color"] = page_bg_color.hex();
  j["para-bg-color"] = para_bg_color ? json(para_bg_color->hex()) : json(nullptr);
  j["para-border-color"] = para_border_color ? json(para_border_color->hex()) : json(nullptr);
  j["alignment"] = alignment_name(alignment);
  j["horizontal-scale"] = horizontal_scale;
  j["first-line-indent"] = first_line_indent;
  j["left-indent"] = left_indent;
  j["right-indent"] = right_indent;
  j["space-before"] = space_before;
  j["space-after"] = space_after;
  j["border-width"] = border_width;
  j["border-padding"] = border_padding;
  j["auto-crop-width"] = auto_crop_width;
  j["auto-crop-last-page"] = auto_crop_last_page;
  j["newline-markup"] = newline_markup;
  if (!fallback_font_paths.empty()) j["fallback-font-paths"] = fallback_font_paths;
  // Integral values are written as integers so saved files read like Glyph's own.
  for (auto& [k, v] : j.items())
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
        std::fabs(v.get<double>()) < 1e15)
      v = static_cast<long long>(v.get<double>());
  return j.dump(indent);
}

void RenderConfig::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary);
  GLYPH_CHECK(out.good(), IoError, "cannot write config file '{}'", path);
  out << to_json() << "\n";
  GLYPH_CHECK(out.good(), IoError, "error while writing config file '{}'", path);
}

void RenderConfig::validate() const {
  auto finite = [](double v) { return std::isfinite(v); };
  auto positive = [&](double v, const char* key) {
    GLYPH_CHECK(finite(v) && v > 0, ConfigError, "config key '{}': must be > 0, got {}", key, v);
  };
  auto non_negative = [&](double v, const char* key) {
    GLYPH_CHECK(finite(v) && v >= 0, ConfigError, "config key '{}': must be >= 0, got {}", key, v);
  };
  positive(page_width, "page-size");
  positive(page_height, "page-size");
  GLYPH_CHECK(page_width <= 14400 && page_height <= 14400, ConfigError,
              "config key 'page-size': {}x{} points is larger than PDF's 14400-point limit",
              page_width, page_height);
  GLYPH_CHECK(finite(dpi) && dpi >= 18 && dpi <= 1200, ConfigError,
              "config key 'dpi': must be between 18 and 1200, got {}", dpi);
  positive(font_size, "font-size");
  positive(leading(), "line-height");
  non_negative(margin_x, "margin-x");
  non_negative(margin_y, "margin-y");
  non_negative(space_before, "space-before");
  non_negative(space_after, "space-after");
  non_negative(border_width, "border-width");
  non_negative(border_padding, "border-padding");
  non_negative(left_indent, "left-indent");
  non_negative(right_indent, "right-indent");
  GLYPH_CHECK(finite(first_line_indent), ConfigError,
              "config key 'first-line-indent': must be a finite number, got {}", first_line_indent);
  GLYPH_CHECK(finite(horizontal_scale) && horizontal_scale > 0 && horizontal_scale <= 4, ConfigError,
              "config key 'horizontal-scale': must be in (0, 4], got {}", horizontal_scale);
  // The frame has 6 pt padding on each side inside the margins (reportlab's Frame default).
  const double frame_w = page_width - 2 * margin_x - 12;
  const double frame_h = page_height - 2 * margin_y - 12;
  GLYPH_CHECK(frame_w > 0, ConfigError,
              "config key 'margin-x': {} leaves no room on a {}-point-wide page (2 x margin + 12 "
              "pt frame padding must be < page width)",
              margin_x, page_width);
  GLYPH_CHECK(frame_h >= leading(), ConfigError,
              "config key 'margin-y': {} leaves less than one line ({} pt) on a {}-point-high page",
              margin_y, leading(), page_height);
  GLYPH_CHECK(frame_w - left_indent - right_indent > 0, ConfigError,
              "config keys 'left-indent'/'right-indent': {} + {} leave no room in a {}-point-wide "
              "frame",
              left_indent, right_indent, frame_w);
  parse_newline_markup(newline_markup);  // throws ConfigError on unsupported markup
}

// ---------------------------------------------------------------- defaults

namespace {
bool readable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
}  // namespace

std::string default_font_path() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("GLYPH_FONT_DIR")) dirs.emplace_back(env);
  dirs.emplace_back(GLYPH_FONT_INSTALL_DIR);
  dirs.emplace_back(GLYPH_FONT_SOURCE_DIR);
  dirs.emplace_back("/usr/share/fonts/truetype/dejavu");
  dirs.emplace_back("/usr/local/share/fonts");
  for (const auto& d : dirs)
    if (readable(d / "DejaVuSans.ttf")) return (d / "DejaVuSans.ttf").string();
  return "";
}

std::string find_cjk_font() {
  static const char* kCandidates[] = {
      "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
      "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
      "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
      "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
      "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
      "/usr/share/fonts/adobe-source-han-sans/SourceHanSansSC-Regular.otf",
      "/usr/share/fonts/opentype/source-han-sans/SourceHanSans-Regular.ttc",
      "/System/Library/Fonts/PingFang.ttc",
      "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
      "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
  };
  if (const char* env = std::getenv("GLYPH_CJK_FONT"))
    if (readable(env)) return env;
  for (const char* c : kCandidates)
    if (readable(c)) return c;
  return "";
}

RenderConfig RenderConfig::glyph_default() {
  // Glyph's config_en.json (the searched best config), with a font we may ship.
  RenderConfig c;
  c.page_width = 595;
  c.page_height = 842;
  c.dpi = 72;
  c.margin_x = 10;
  c.margin_y = 10;
  c.font_size = 9;
  c.line_height = 10;
  c.font_color = {0, 0, 0};
  c.alignment = Alignment::kLeft;
  c.horizontal_scale = 1.0;
  c.page_bg_color = {255, 255, 255};
  c.para_bg_color = Rgb{255, 255, 255};
  c.auto_crop_width = true;
  c.auto_crop_last_page = true;
  c.font_path = default_font_path();
  std::string cjk = find_cjk_font();
  if (!cjk.empty()) c.fallback_font_paths.push_back(cjk);
  return c;
}

}  // namespace glyph
