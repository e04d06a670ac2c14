// RenderConfig: every key of Glyph's rendering config files (kebab-case JSON), with the reference
// defaults, validation and a JSON round trip.
//
//   auto cfg = glyph::RenderConfig::from_file("config_en.json");  // relative font-path resolves
//   cfg.font_size = 10;                                           // against the file's folder
//   cfg.validate();
//   cfg.save("my_config.json");
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glyph {

enum class Alignment { kLeft, kCenter, kRight, kJustify };

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  // Accepts "#RRGGBB", "RRGGBB", "#RGB" and a few CSS names (black, white, red, ...).
  // Throws ConfigError naming `key` on anything else.
  static Rgb parse(std::string_view text, std::string_view key = "colour");
  std::string hex() const;  // "#RRGGBB"
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

const char* alignment_name(Alignment a);
// "LEFT"/"CENTER"/"CENTRE"/"RIGHT"/"JUSTIFY" (any case). Unknown names: JUSTIFY (what Glyph's
// reference does) unless `strict`, where they throw ConfigError. Config files are read strictly so
// a typo is reported instead of silently justifying.
Alignment parse_alignment(std::string_view name, bool strict = false);

struct RenderConfig {
  // reportlab's A4 in points.
  static constexpr double kA4Width = 595.2755905511812;
  static constexpr double kA4Height = 841.8897637795277;

  // ---- Glyph's keys (JSON name in comments) ----
  double page_width = kA4Width;    // page-size "w,h" (points)
  double page_height = kA4Height;  //
  double dpi = 72;                 // dpi
  double margin_x = 20;            // margin-x (points)
  double margin_y = 20;            // margin-y (points)
  std::string font_path;           // font-path (absolute after loading from a file)
  double font_size = 9;            // font-size (points)
  std::optional<double> line_height;  // line-height (leading); default font-size + 1
  Rgb font_color{0, 0, 0};             // font-color
  Rgb page_bg_color{255, 255, 255};    // page-bg-color
  // Glyph paints a rectangle behind every paragraph, white unless configured (null: none).
  std::optional<Rgb> para_bg_color = Rgb{255, 255, 255};      // para-bg-color
  std::optional<Rgb> para_border_color = Rgb{255, 255, 255};  // para-border-color
  Alignment alignment = Alignment::kJustify;  // alignment
  double horizontal_scale = 1.0;       // horizontal-scale
  double first_line_indent = 0;        // first-line-indent
  double left_indent = 0;              // left-indent
  double right_indent = 0;             // right-indent
  double space_before = 0;             // space-before
  double space_after = 0;              // space-after
  double border_width = 0;             // border-width
  double border_padding = 0;           // border-padding
  bool auto_crop_width = false;        // auto-crop-width
  bool auto_crop_last_page = false;    // auto-crop-last-page
  std::string newline_markup = "<br/>";  // newline-markup

  // ---- glyphcpp extensions (written to JSON only when set) ----
  // Fonts tried in order for characters the primary font lacks ("fallback-font-paths").
  std::vector<std::string> fallback_font_paths;

  double leading() const { return line_height ? *line_height : font_size + 1; }

  // Parse a JSON object with Glyph's keys. Missing keys keep the defaults above; unknown keys are
  // an error (naming the key). A relative font path is resolved against `base_dir` when given.
  static RenderConfig from_json(std::string_view json, const std::string& base_dir = "");
  static RenderConfig from_file(const std::string& path);
  // Glyph-compatible JSON (kebab-case keys, page-size as "w,h").
  std::string to_json(int indent = 2) const;
  void save(const std::string& path) const;

  // Set one key from its JSON text (e.g. set("font-size", "10")). Used by search and bindings.
  void set(std::string_view key, std::string_view json_value);
  // All keys this struct understands, Glyph's first.
  static const std::vector<std::string>& keys();

  // Throws ConfigError with the key and value for: non-positive sizes, margins/indents leaving no
  // room for text, dpi outside [18, 1200], horizontal-scale outside (0, 4], negative spacing,
  // unsupported newline-markup. Fonts are checked when a Renderer opens them.
  void validate() const;

  // Glyph's searched config (config_en.json) with a free font: `font_path` from default_font_path()
  // and a CJK fallback from find_cjk_font() when one is installed.
  static RenderConfig glyph_default();
};

// The shipped default font (DejaVu Sans): $GLYPH_FONT_DIR, the installed share/glyph/fonts, the
// source tree, then the system's DejaVu. Empty string when none exists.
std::string default_font_path();
// A Noto Sans CJK / Source Han Sans font on this system, or "" when none is installed.
std::string find_cjk_font();

}  // namespace glyph
