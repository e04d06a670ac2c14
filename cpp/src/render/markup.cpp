#include "render/markup.h"

#include <regex>

#include "common/check.h"
#include "glyph/common/utf8.h"

namespace glyph {

namespace {
std::string decode_entities(const std::string& s, std::string_view markup) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    size_t semi = s.find(';', i);
    GLYPH_CHECK(semi != std::string::npos, ConfigError,
                "config key 'newline-markup': unterminated entity in \"{}\"", markup);
    std::string name = s.substr(i + 1, semi - i - 1);
    if (name == "amp") out += '&';
    else if (name == "lt") out += '<';
    else if (name == "gt") out += '>';
    else if (name == "quot") out += '"';
    else if (name == "apos") out += '\'';
    else if (name == "nbsp") append_utf8(out, 0xA0);
    else if (name.size() > 1 && name[0] == '#') {
      long cp = name[1] == 'x' || name[1] == 'X' ? std::strtol(name.c_str() + 2, nullptr, 16)
                                                 : std::strtol(name.c_str() + 1, nullptr, 10);
      GLYPH_CHECK(cp > 0 && cp <= 0x10FFFF, ConfigError,
                  "config key 'newline-markup': bad character reference &{}; in \"{}\"", name, markup);
      append_utf8(out, static_cast<char32_t>(cp));
    } else {
      GLYPH_THROW(ConfigError, "config key 'newline-markup': unknown entity &{}; in \"{}\"", name,
                  markup);
    }
    i = semi;
  }
  return out;
}
}  // namespace

NewlineMarkup parse_newline_markup(std::string_view markup) {
  static const std::regex kBreak(R"(^\s*<\s*br\s*/?\s*>\s*$)", std::regex::icase);
  static const std::regex kFont(
      R"(^<\s*font\s+colou?r\s*=\s*["']([^"']*)["']\s*>([\s\S]*)<\s*/\s*font\s*>$)",
      std::regex::icase);
  std::string m(markup);
  NewlineMarkup out;
  if (std::regex_match(m, kBreak)) return out;
  std::smatch match;
  if (std::regex_match(m, match, kFont)) {
    std::string body = match[2].str();
    GLYPH_CHECK(body.find('<') == std::string::npos, ConfigError,
                "config key 'newline-markup': nested tags are not supported in \"{}\"", markup);
    out.kind = NewlineMarkup::Kind::kInline;
    out.color = Rgb::parse(match[1].str(), "newline-markup");
    out.has_color = true;
    out.text = decode_utf8(decode_entities(body, markup)).codepoints;
    return out;
  }
  GLYPH_THROW(ConfigError,
              "config key 'newline-markup': unsupported markup \"{}\" (use \"<br/>\" or "
              "\"<font color=\\\"#RRGGBB\\\">TEXT</font>\")",
              markup);
}

}  // namespace glyph
