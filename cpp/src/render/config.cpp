#include "glyph/render/config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "glyph/common/file.h"
#include "render/config_fields.h"
#include "render/markup.h"

namespace fs = std::filesystem;

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

const char* png_color_name(PngColor c) { return c == PngColor::kRgb ? "rgb" : "auto"; }

PngColor parse_png_color(std::string_view name, std::string_view key) {
  const std::string u = upper(trim(name));
  if (u == "AUTO") return PngColor::kAuto;
  if (u == "RGB") return PngColor::kRgb;
  GLYPH_THROW(ConfigError,
              "config key '{}': unknown PNG colour mode \"{}\" (expected \"auto\": gray or palette "
              "when exact, else RGB; or \"rgb\": always 24-bit RGB)",
              key, name);
}

// ---------------------------------------------------------------- value codecs

namespace {

using config::Field;
using config::Json;
using config::Range;

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

void parse_page_size(const Json& v, RenderConfig& c) {
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
    // strtod also reads "inf", "nan" and 1e400 (as inf): a size must be a finite number.
    ok = !a.empty() && !b.empty() && *ea == '\0' && *eb == '\0' && std::isfinite(w) &&
         std::isfinite(h);
  }
  GLYPH_CHECK(ok, ConfigError,
              "config key 'page-size': expected \"width,height\" in points or a name (A4, "
              "Letter, ...), got \"{}\"",
              s);
  c.page_width = w;
  c.page_height = h;
}

double get_number(const Json& v, std::string_view key) {
  GLYPH_CHECK(v.is_number(), ConfigError, "config key '{}': expected a number, got {}", key,
              v.dump());
  return v.get<double>();
}

bool get_bool(const Json& v, std::string_view key) {
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

std::string get_string(const Json& v, std::string_view key) {
  GLYPH_CHECK(v.is_string(), ConfigError, "config key '{}': expected a string, got {}", key,
              v.dump());
  return v.get<std::string>();
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

// One codec per FieldKind, over a member pointer M of the matching type.
template <auto M>
void load_number(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  c.*M = get_number(v, f.info.key);
}
template <auto M>
void load_integer(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  using T = std::remove_reference_t<decltype(c.*M)>;
  GLYPH_CHECK(v.is_number_integer() || (v.is_number() && v.get<double>() == std::floor(v.get<double>())),
              ConfigError, "config key '{}': expected a whole number, got {}", f.info.key, v.dump());
  // Out of the member's range (1e12 for an int) the cast would be undefined: refuse it here;
  // the key's own range is checked by validate().
  const double d = v.get<double>();
  GLYPH_CHECK(d >= static_cast<double>(std::numeric_limits<T>::min()) &&
                  d <= static_cast<double>(std::numeric_limits<T>::max()),
              ConfigError, "config key '{}': {}, got {}", f.info.key, f.range.describe(), v.dump());
  c.*M = static_cast<T>(d);
}
template <auto M>
void load_bool(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  c.*M = get_bool(v, f.info.key);
}
template <auto M>
void load_string(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  c.*M = get_string(v, f.info.key);
}
template <auto M>
void load_path(RenderConfig& c, const Json& v, const Field& f, const std::string& base_dir) {
  c.*M = resolve_path(get_string(v, f.info.key), base_dir);
}
template <auto M>
void load_path_list(RenderConfig& c, const Json& v, const Field& f, const std::string& base_dir) {
  GLYPH_CHECK(v.is_array(), ConfigError, "config key '{}': expected a list of paths, got {}",
              f.info.key, v.dump());
  std::vector<std::string> paths;
  for (const auto& p : v) paths.push_back(resolve_path(get_string(p, f.info.key), base_dir));
  c.*M = std::move(paths);
}
template <auto M>
void load_color(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  c.*M = Rgb::parse(get_string(v, f.info.key), f.info.key);
}
template <auto M>
void load_optional_color(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  if (v.is_null()) c.*M = std::nullopt;
  else c.*M = Rgb::parse(get_string(v, f.info.key), f.info.key);
}
template <auto M>
void load_alignment(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  c.*M = parse_alignment(get_string(v, f.info.key), /*strict=*/true);
}
void load_leading(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  if (v.is_null()) c.line_height.reset();
  else c.line_height = get_number(v, f.info.key);
}
void load_page_size(RenderConfig& c, const Json& v, const Field&, const std::string&) {
  parse_page_size(v, c);
}
void load_png_color(RenderConfig& c, const Json& v, const Field& f, const std::string&) {
  c.png_color = parse_png_color(get_string(v, f.info.key), f.info.key);
}

template <auto M>
Json plain_value(const RenderConfig& c) {
  return Json(c.*M);
}
template <auto M>
Json color_value(const RenderConfig& c) {
  return Json((c.*M).hex());
}
template <auto M>
Json optional_color_value(const RenderConfig& c) {
  return c.*M ? Json((c.*M)->hex()) : Json(nullptr);
}
template <auto M>
Json alignment_value(const RenderConfig& c) {
  return Json(alignment_name(c.*M));
}
Json leading_value(const RenderConfig& c) {
  return c.line_height ? Json(*c.line_height) : Json(nullptr);
}
Json leading_saved(const RenderConfig& c) { return Json(c.leading()); }
Json png_color_value(const RenderConfig& c) { return Json(png_color_name(c.png_color)); }
Json page_size_value(const RenderConfig& c) { return Json::array({c.page_width, c.page_height}); }
Json page_size_saved(const RenderConfig& c) {
  return Json(fmt_number(c.page_width) + "," + fmt_number(c.page_height));
}

template <auto M>
double number_of(const RenderConfig& c) {
  return static_cast<double>(c.*M);
}
double leading_number(const RenderConfig& c) { return c.leading(); }

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Range kAny{};                                     // not range-checked
constexpr Range kFinite{-kInf, false, kInf, false, true};   // any finite number
constexpr Range kPositive{0, true, kInf, false, true};      // > 0
constexpr Range kNonNegative{0, false, kInf, false, true};  // >= 0

// One table entry: the codecs of kind K over member M (page-size and line-height, which span or
// derive values, are written out in the table).
template <auto M, FieldKind K>
Field field(std::string_view key, std::string_view attr, std::string_view doc, Range range = kAny,
            bool extension = false) {
  Field f{{key, attr, K, extension, doc}, nullptr, nullptr, nullptr, nullptr, range};
  if constexpr (K == FieldKind::kColor) {
    f.load = load_color<M>;
    f.value = f.saved = color_value<M>;
  } else if constexpr (K == FieldKind::kOptionalColor) {
    f.load = load_optional_color<M>;
    f.value = f.saved = optional_color_value<M>;
  } else if constexpr (K == FieldKind::kAlignment) {
    f.load = load_alignment<M>;
    f.value = f.saved = alignment_value<M>;
  } else {
    f.value = f.saved = plain_value<M>;
    if constexpr (K == FieldKind::kNumber) f.load = load_number<M>;
    if constexpr (K == FieldKind::kInteger) f.load = load_integer<M>;
    if constexpr (K == FieldKind::kBool) f.load = load_bool<M>;
    if constexpr (K == FieldKind::kString) f.load = load_string<M>;
    if constexpr (K == FieldKind::kPath) f.load = load_path<M>;
    if constexpr (K == FieldKind::kPathList) f.load = load_path_list<M>;
    if constexpr (K == FieldKind::kNumber || K == FieldKind::kInteger) f.number = number_of<M>;
  }
  return f;
}

// Glyph's keys in the order of its config files, then glyphcpp's extensions (a new key: one line
// here, field<&member, kind>(key, attr, doc[, range[, extension]]), and its member in config.h).
std::vector<Field> make_fields() {
  using C = RenderConfig;
  using K = FieldKind;
  return {
      {{"page-size", "page_size", K::kPageSize, false,
        "page width and height in points, \"w,h\" or a name (A4, Letter, ...)"},
       load_page_size, page_size_value, page_size_saved, nullptr, kAny},
      field<&C::dpi, K::kNumber>("dpi", "dpi",
                                 "rasterisation resolution; 72 = one pixel per point",
                                 Range{18, false, 1200, false, true}),
      field<&C::margin_x, K::kNumber>("margin-x", "margin_x", "left and right margins (points)",
                                      kNonNegative),
      field<&C::margin_y, K::kNumber>("margin-y", "margin_y", "top and bottom margins (points)",
                                      kNonNegative),
      field<&C::font_path, K::kPath>("font-path", "font_path", "TrueType/OpenType font file"),
      field<&C::font_size, K::kNumber>("font-size", "font_size", "font size (points)", kPositive),
      {{"line-height", "line_height", K::kLeading, false, "leading (points); null: font-size + 1"},
       load_leading, leading_value, leading_saved, leading_number, kPositive},
      field<&C::font_color, K::kColor>("font-color", "font_color", "text colour"),
      field<&C::page_bg_color, K::kColor>("page-bg-color", "page_bg_color",
                                          "page background colour"),
      field<&C::para_bg_color, K::kOptionalColor>("para-bg-color", "para_bg_color",
                                                  "rectangle behind each paragraph; null: none"),
      field<&C::para_border_color, K::kOptionalColor>(
          "para-border-color", "para_border_color",
          "paragraph border colour (with border-width > 0)"),
      field<&C::alignment, K::kAlignment>("alignment", "alignment",
                                          "LEFT, CENTER, RIGHT or JUSTIFY"),
      field<&C::horizontal_scale, K::kNumber>("horizontal-scale", "horizontal_scale",
                                              "page image resized horizontally by this factor",
                                              Range{0, true, 4, false, true}),
      field<&C::first_line_indent, K::kNumber>(
          "first-line-indent", "first_line_indent",
          "extra indent of each paragraph's first line (points)", kFinite),
      field<&C::left_indent, K::kNumber>("left-indent", "left_indent", "points", kNonNegative),
      field<&C::right_indent, K::kNumber>("right-indent", "right_indent", "points", kNonNegative),
      field<&C::space_before, K::kNumber>("space-before", "space_before",
                                          "space above each paragraph (points)", kNonNegative),
      field<&C::space_after, K::kNumber>("space-after", "space_after",
                                         "space below each paragraph (points)", kNonNegative),
      field<&C::border_width, K::kNumber>("border-width", "border_width",
                                          "paragraph border line width (points)", kNonNegative),
      field<&C::border_padding, K::kNumber>("border-padding", "border_padding",
                                            "space between a paragraph and its border (points)",
                                            kNonNegative),
      field<&C::auto_crop_width, K::kBool>("auto-crop-width", "auto_crop_width",
                                           "crop each page right of the last ink column + margin-x"),
      field<&C::auto_crop_last_page, K::kBool>(
          "auto-crop-last-page", "auto_crop_last_page",
          "crop the last page below the last ink row + margin-y"),
      field<&C::newline_markup, K::kString>(
          "newline-markup", "newline_markup",
          "what a newline becomes: <br/> or <font color=\"#RRGGBB\">TEXT</font>"),
      field<&C::fallback_font_paths, K::kPathList>(
          "fallback-font-paths", "fallback_font_paths",
          "fonts tried in order for characters font-path lacks", kAny, /*extension=*/true),
      {{"png-color", "png_color", K::kString, /*extension=*/true,
        "how PNG files are written: auto (gray or palette when exact, else RGB) or rgb"},
       load_png_color, png_color_value, png_color_value, nullptr, kAny},
      field<&C::paragraph_lines, K::kInteger>(
          "paragraph-lines", "paragraph_lines",
          "every N input lines form one paragraph (Glyph's text_to_images: 30); 0: the whole "
          "text is one paragraph (Glyph's evaluation scripts)",
          Range{0, false, std::numeric_limits<int>::max(), false, true}, /*extension=*/true),
      field<&C::tab_nbsp, K::kInteger>(
          "tab-nbsp", "tab_nbsp",
          "0: a tab stays breakable whitespace (text_to_images); N > 0: each tab becomes N "
          "no-break spaces (Glyph's evaluation scripts: 4)",
          Range{0, false, RenderConfig::kMaxTabNbsp, false, true}, /*extension=*/true),
  };
}

std::string known_keys() {
  std::string known;
  for (const auto& f : config::fields()) known += fmt::format("{}{}", known.empty() ? "" : ", ", f.info.key);
  return known;
}

Json parse_json(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for 1e400
    GLYPH_THROW(ConfigError, "{}: invalid JSON: {}", what, e.what());
  }
}

}  // namespace

// ---------------------------------------------------------------- the table

namespace config {

bool Range::contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (lo_open ? !(v > lo) : !(v >= lo)) return false;
  if (hi_open ? !(v < hi) : !(v <= hi)) return false;
  return true;
}

std::string Range::describe() const {
  const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  if (!has_lo && !has_hi) return "must be a finite number";
  if (!has_hi) return fmt::format("must be {} {}", lo_open ? ">" : ">=", lo);
  if (!has_lo) return fmt::format("must be {} {}", hi_open ? "<" : "<=", hi);
  if (!lo_open && !hi_open) return fmt::format("must be between {} and {}", lo, hi);
  return fmt::format("must be in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
}

const std::vector<Field>& fields() {
  static const std::vector<Field> table = make_fields();
  return table;
}

const Field* find_field(std::string_view key) {
  for (const auto& f : fields())
    if (f.info.key == key) return &f;
  return nullptr;
}

const Field& field(std::string_view key) {
  const Field* f = find_field(key);
  GLYPH_CHECK(f != nullptr, ConfigError, "unknown config key '{}' (known keys: {})", key,
              known_keys());
  return *f;
}

NewlineMarkup validate(const RenderConfig& c) {
  GLYPH_CHECK(std::isfinite(c.page_width) && c.page_width > 0, ConfigError,
              "config key 'page-size': must be > 0, got {}", c.page_width);
  GLYPH_CHECK(std::isfinite(c.page_height) && c.page_height > 0, ConfigError,
              "config key 'page-size': must be > 0, got {}", c.page_height);
  GLYPH_CHECK(c.page_width <= 14400 && c.page_height <= 14400, ConfigError,
              "config key 'page-size': {}x{} points is larger than PDF's 14400-point limit",
              c.page_width, c.page_height);
  for (const Field& f : fields()) {
    if (!f.range.check || !f.number) continue;
    const double v = f.number(c);
    GLYPH_CHECK(f.range.contains(v), ConfigError, "config key '{}': {}, got {}", f.info.key,
                f.range.describe(), v);
  }
  // Each key may be in range and the page still too big to draw: 14400 points at 1200 dpi is
  // 240000 pixels a side (172 GB of RGB). 2^28 pixels holds A4 at 1200 dpi (140 Mpx).
  const double px = std::ceil(c.page_width * c.dpi / 72.0) * std::ceil(c.page_height * c.dpi / 72.0);
  GLYPH_CHECK(px <= double(std::int64_t{1} << 28), ConfigError,
              "config keys 'page-size' and 'dpi': a {}x{}-point page at {} dpi is {:.0f} million "
              "pixels ({:.1f} GB as RGB), more than the 268 million a page may have; lower the dpi "
              "or the page size",
              c.page_width, c.page_height, c.dpi, px / 1e6, px * 3 / 1e9);
  const RenderConfig::Frame frame = c.frame();
  GLYPH_CHECK(frame.width > 0, ConfigError,
              "config key 'margin-x': {} leaves no room on a {}-point-wide page (2 x margin + 12 "
              "pt frame padding must be < page width)",
              c.margin_x, c.page_width);
  GLYPH_CHECK(frame.height >= c.leading(), ConfigError,
              "config key 'margin-y': {} leaves less than one line ({} pt) on a {}-point-high page",
              c.margin_y, c.leading(), c.page_height);
  GLYPH_CHECK(c.text_width() > 0, ConfigError,
              "config keys 'left-indent'/'right-indent': {} + {} leave no room in a {}-point-wide "
              "frame",
              c.left_indent, c.right_indent, frame.width);
  return parse_newline_markup(c.newline_markup);  // throws ConfigError on unsupported markup
}

}  // namespace config

// ---------------------------------------------------------------- RenderConfig

RenderConfig::Frame RenderConfig::frame() const {
  Frame f;
  f.left = margin_x + kFramePadding;
  f.top = margin_y + kFramePadding;
  f.bottom = page_height - margin_y - kFramePadding;
  f.width = page_width - 2 * margin_x - 2 * kFramePadding;
  f.height = page_height - 2 * margin_y - 2 * kFramePadding;
  return f;
}

double RenderConfig::text_width() const { return frame().width - left_indent - right_indent; }

const std::vector<ConfigField>& RenderConfig::fields() {
  static const std::vector<ConfigField> out = [] {
    std::vector<ConfigField> v;
    for (const auto& f : config::fields()) v.push_back(f.info);
    return v;
  }();
  return out;
}

const std::vector<std::string>& RenderConfig::keys() {
  static const std::vector<std::string> out = [] {
    std::vector<std::string> v;
    for (const auto& f : config::fields()) v.emplace_back(f.info.key);
    return v;
  }();
  return out;
}

RenderConfig RenderConfig::from_json(std::string_view text, const std::string& base_dir) {
  Json j = parse_json(text, "render config");
  GLYPH_CHECK(j.is_object(), ConfigError, "render config: expected a JSON object, got {}",
              j.type_name());
  RenderConfig c;
  for (auto it = j.begin(); it != j.end(); ++it)
    config::apply(c, config::field(it.key()), it.value(), base_dir);
  return c;
}

RenderConfig RenderConfig::from_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path, "config file");
  } catch (const IoError& e) {
    throw ConfigError(e.what());  // a config that cannot be read is a config error
  }
  std::string dir = fs::absolute(fs::path(path)).parent_path().string();
  try {
    return from_json(text, dir);
  } catch (const ConfigError& e) {
    GLYPH_THROW(ConfigError, "{}: {}", path, e.what());
  }
}

void RenderConfig::set(std::string_view key, std::string_view json_value) {
  const config::Field& f = config::field(key);
  config::apply(*this, f, parse_json(json_value, fmt::format("config key '{}'", key)));
}

std::string RenderConfig::get(std::string_view key) const {
  return config::field(key).value(*this).dump();
}

double RenderConfig::number(std::string_view name) const {
  if (const config::Field* f = config::find_field(name); f && f->number) return f->number(*this);
  if (name == "leading") return leading();
  if (name == "page-width") return page_width;
  if (name == "page-height") return page_height;
  if (name == "font-px") return font_size * dpi / 72.0;
  if (name == "frame-width") return frame().width;
  if (name == "frame-height") return frame().height;
  if (name == "text-width") return text_width();
  GLYPH_THROW(ConfigError,
              "unknown numeric name '{}' (numeric config keys, page-width, page-height, font-px, "
              "leading, frame-width, frame-height, text-width)",
              name);
}

std::string RenderConfig::to_json(int indent) const {
  static const RenderConfig defaults;
  Json j = Json::object();
  for (const auto& f : config::fields()) {
    if (f.info.extension && f.value(*this) == f.value(defaults)) continue;
    j[std::string(f.info.key)] = f.saved(*this);
  }
  // Integral values are written as integers so saved files read like Glyph's own.
  for (auto& [k, v] : j.items())
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
        std::fabs(v.get<double>()) < 1e15)
      v = static_cast<long long>(v.get<double>());
  return j.dump(indent);
}

void RenderConfig::save(const std::string& path) const {
  write_file_atomic(path, to_json() + "\n", "config file");
}

void RenderConfig::validate() const { (void)config::validate(*this); }

RenderConfig RenderConfig::evaluation_layout() const {
  RenderConfig c = *this;
  c.paragraph_lines = 0;
  c.tab_nbsp = kEvaluationTabNbsp;
  return c;
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
#ifdef __linux__
  // A program installed beside the package (PREFIX/bin) finds PREFIX/share/glyph/fonts wherever
  // the prefix was moved to (the installed package is relocatable).
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.emplace_back(exe.parent_path().parent_path() / "share" / "glyph" / "fonts");
#endif
  dirs.emplace_back(GLYPH_FONT_INSTALL_DIR);
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
