// RenderConfig: every key of Glyph's rendering config files (kebab-case JSON), with the reference
// defaults, validation and a JSON round trip. One table of fields (RenderConfig::fields()) drives
// loading, saving, set/get, the numeric lookup and the Python attributes.
//
//   auto cfg = glyph::RenderConfig::from_file("config_en.json");  // relative font-path resolves
//   cfg.font_size = 10;                                           // against the file's folder
//   cfg.set("alignment", "\"JUSTIFY\"");                          // or by key, from JSON text
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
  bool is_gray() const { return r == g && g == b; }
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

const char* alignment_name(Alignment a);
// "LEFT"/"CENTER"/"CENTRE"/"RIGHT"/"JUSTIFY" (any case). Unknown names: JUSTIFY (what Glyph's
// reference does) unless `strict`, where they throw ConfigError. Config files are read strictly so
// a typo is reported instead of silently justifying.
Alignment parse_alignment(std::string_view name, bool strict = false);

// How PNG files are written (config key "png-color"; see glyph/render/png.h). kAuto: the smallest
// colour type that decodes to exactly the page's RGB pixels (gray, palette or RGB); kRgb: always
// 24-bit RGB, as glyphcpp wrote every page before 0.3.
enum class PngColor { kAuto, kRgb };
const char* png_color_name(PngColor c);  // "auto", "rgb"
// "auto" or "rgb" (any case); anything else throws ConfigError naming `key`.
PngColor parse_png_color(std::string_view name, std::string_view key = "png-color");

// How a config key's value is written in JSON; also the type of its Python attribute.
enum class FieldKind {
  kNumber,         // a number (double)
  kInteger,        // a whole number
  kLeading,        // a number, or null for font-size + 1; saved as the effective value
  kBool,           // true/false (also 0/1 and "true"/"false")
  kString,         // text
  kPath,           // a file path; a relative one resolves against the config file's folder
  kPathList,       // a list of file paths, resolved the same way
  kColor,          // "#RRGGBB", "#RGB" or a colour name; saved as "#RRGGBB"
  kOptionalColor,  // a colour, or null for none
  kAlignment,      // LEFT, CENTER, RIGHT or JUSTIFY
  kPageSize,       // "width,height" in points, [width, height] or a name (A4, Letter, ...)
};

// One config key as the field table describes it (see docs/config.md for every key).
struct ConfigField {
  std::string_view key;   // kebab-case JSON name, e.g. "font-size"
  std::string_view attr;  // the snake_case member / Python attribute, e.g. "font_size"
  FieldKind kind;
  // A glyphcpp extension rather than one of Glyph's keys: saved only when it differs from the
  // default, so files written for Glyph's defaults read exactly like Glyph's own.
  bool extension;
  std::string_view doc;
};

struct RenderConfig {
  // reportlab's A4 in points.
  static constexpr double kA4Width = 595.2755905511812;
  static constexpr double kA4Height = 841.8897637795277;
  // reportlab's Frame has this much padding on every side inside the page margins.
  static constexpr double kFramePadding = 6.0;

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

  // ---- glyphcpp extensions (written to JSON only when they differ from the default) ----
  // Fonts tried in order for characters the primary font lacks ("fallback-font-paths").
  std::vector<std::string> fallback_font_paths;
  // How render_to_dir writes PNG files ("png-color": "auto" or "rgb"); pixels are the same.
  PngColor png_color = PngColor::kAuto;
  // How the text is cut into paragraphs ("paragraph-lines"): every N input lines form one
  // paragraph, joined inside it by the newline markup (Glyph's text_to_images: 30); 0: the whole
  // text is one paragraph, as Glyph's evaluation scripts lay out a benchmark context.
  int paragraph_lines = kDemoParagraphLines;
  // What a tab becomes ("tab-nbsp"): 0 keeps it as breakable whitespace (text_to_images); N > 0
  // makes it N no-break spaces (the evaluation scripts: 4).
  int tab_nbsp = 0;

  static constexpr int kDemoParagraphLines = 30;  // text_to_images: 30 lines per paragraph
  static constexpr int kEvaluationTabNbsp = 4;    // the evaluation scripts: a tab = 4 x &nbsp;
  static constexpr int kMaxTabNbsp = 64;          // tab-nbsp's upper bound

  // A copy laid out as Glyph's evaluation scripts render a context: the whole text as one
  // paragraph (paragraph-lines 0) and each tab as four no-break spaces (tab-nbsp 4). Every other
  // key is kept.
  RenderConfig evaluation_layout() const;
  // Whether paragraph-lines and tab-nbsp are those of evaluation_layout().
  bool is_evaluation_layout() const {
    return paragraph_lines == 0 && tab_nbsp == kEvaluationTabNbsp;
  }

  double leading() const { return line_height ? *line_height : font_size + 1; }

  // The text frame in points from the page's top-left corner: reportlab's Frame inside the
  // margins, with kFramePadding on every side. Each edge is computed the way reportlab does.
  struct Frame {
    double left, top, bottom;  // x of the left edge; y of the top and bottom edges
    double width, height;
  };
  Frame frame() const;
  // Width left for text between the indents: frame().width - left-indent - right-indent.
  double text_width() const;

  // Parse a JSON object with Glyph's keys. Missing keys keep the defaults above; unknown keys are
  // an error (naming the key). A relative font path is resolved against `base_dir` when given.
  static RenderConfig from_json(std::string_view json, const std::string& base_dir = "");
  // Any problem with the file, including that it cannot be read, is a ConfigError naming it.
  static RenderConfig from_file(const std::string& path);
  // Glyph-compatible JSON (kebab-case keys, page-size as "w,h").
  std::string to_json(int indent = 2) const;
  void save(const std::string& path) const;  // written atomically (temporary file + rename)

  // Set one key from its JSON text (e.g. set("font-size", "10")). A relative path stays relative.
  void set(std::string_view key, std::string_view json_value);
  // One key's value as JSON text, as set() takes it (null for an unset line-height or colour).
  std::string get(std::string_view key) const;
  // Numeric value of a numeric key or of a derived quantity: "leading", "page-width",
  // "page-height", "font-px" (font-size * dpi / 72), "frame-width", "frame-height",
  // "text-width". Throws ConfigError naming the known names otherwise.
  double number(std::string_view name) const;

  // The field table, Glyph's keys first.
  static const std::vector<ConfigField>& fields();
  // Every key's JSON name, in fields() order.
  static const std::vector<std::string>& keys();

  // Throws ConfigError with the key and value for: non-positive sizes, margins/indents leaving no
  // room for text, dpi outside [18, 1200], horizontal-scale outside (0, 4], negative spacing,
  // unsupported newline-markup. Fonts are checked when a Renderer opens them.
  void validate() const;

  // Glyph's searched config (config_en.json) with a free font: `font_path` from default_font_path()
  // and a CJK fallback from find_cjk_font() when one is installed. (Python: glyph_default().)
  static RenderConfig glyph_default();
};

// The shipped default font (DejaVu Sans): $GLYPH_FONT_DIR, <running program>/../share/glyph/fonts
// (Linux: a program installed in the package's prefix, wherever it was moved), the configured
// install prefix's share/glyph/fonts, then the system's DejaVu. Empty string when none exists.
std::string default_font_path();
// $GLYPH_CJK_FONT when readable, else a Noto Sans CJK / Source Han Sans / WenQuanYi font in the
// usual system places, or "" when none is installed.
std::string find_cjk_font();

}  // namespace glyph
