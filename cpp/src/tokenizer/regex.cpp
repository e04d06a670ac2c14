#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>

#include "common/check.h"

namespace glyph::tok {
namespace {

// Oniguruma's \s with a Unicode encoding is the White_Space property. PCRE2's \s under UCP is
// \p{Xps} (Z categories + tab..CR), which lacks U+0085 (NEL), so \s is spelled out.
constexpr std::string_view kWhiteSpace =
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

// Per-thread match state: PCRE2 match data and a JIT stack large enough for long inputs.
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(context, nullptr, stack);
    // Split patterns are linear; a limit would turn a long input into an error, not a speedup.
    pcre2_set_match_limit(context, UINT32_MAX);
    pcre2_set_depth_limit(context, UINT32_MAX);
  }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

}  // namespace

std::string onig_to_pcre2(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      GLYPH_CHECK(i + 1 < p.size(), TokenizerError, "Split regex ends with a lone backslash: {}",
                  p);
      char e = p[++i];
      switch (e) {
        case 's':
          if (in_class) {
            out += kWhiteSpace;
          } else {
            out += '[';
            out += kWhiteSpace;
            out += ']';
          }
          break;
        case 'S':
          GLYPH_CHECK(!in_class, TokenizerError,
                      "Unsupported regex construct '\\S' inside a character class in Split "
                      "pattern {}",
                      p);
          out += "[^";
          out += kWhiteSpace;
          out += ']';
          break;
        case 'w':
        case 'W':
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'X':
        case 'R':
        case 'K':
        case 'g':
        case 'k':
          // Their Unicode meaning differs between Oniguruma and PCRE2 (or they are syntax
          // PCRE2 reads otherwise): refuse instead of risking different splits.
          GLYPH_THROW(TokenizerError, "Unsupported regex construct '\\{}' in Split pattern {}", e,
                      p);
        case 'u': {
          // Oniguruma's \uHHHH; PCRE2 spells it \x{HHHH}.
          GLYPH_CHECK(i + 4 < p.size() &&
                          p.substr(i + 1, 4).find_first_not_of("0123456789abcdefABCDEF") ==
                              std::string_view::npos,
                      TokenizerError, "Bad \\u escape in Split pattern {}", p);
          out += "\\x{";
          out.append(p.substr(i + 1, 4));
          out += '}';
          i += 4;
          break;
        }
        default:
          out += '\\';
          out += e;
      }
      continue;
    }
    if (in_class) {
      if (c == '[') {
        GLYPH_CHECK(i + 1 < p.size() && p[i + 1] == ':', TokenizerError,
                    "Unsupported nested character class in Split pattern {}", p);
        std::size_t close = p.find(":]", i + 2);
        GLYPH_CHECK(close != std::string_view::npos, TokenizerError,
                    "Unterminated POSIX class in Split pattern {}", p);
        out.append(p.substr(i, close + 2 - i));
        i = close + 1;
        continue;
      }
      GLYPH_CHECK(!(c == '&' && i + 1 < p.size() && p[i + 1] == '&'), TokenizerError,
                  "Unsupported class intersection '&&' in Split pattern {}", p);
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];  // leading ']' is literal
      continue;
    }
    out += c;
  }
  GLYPH_CHECK(!in_class, TokenizerError, "Unterminated character class in Split pattern {}", p);
  return out;
}

Regex::Regex(std::string_view onig_pattern) : pattern_(onig_pattern) {
  std::string translated = onig_to_pcre2(onig_pattern);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  // Oniguruma's default (Ruby) syntax: ^ and $ are line anchors.
  auto* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &err, &err_off, nullptr);
  GLYPH_CHECK(code, TokenizerError, "Cannot compile Split pattern {} (as PCRE2 {}): {} at {}",
              onig_pattern, translated, pcre2_message(err), err_off);
  int jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  if (jit != 0) {
    pcre2_code_free(code);
    GLYPH_THROW(TokenizerError, "PCRE2 JIT compilation failed for Split pattern {}: {}",
                onig_pattern, pcre2_message(jit));
  }
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

bool Regex::next_match(std::string_view text, std::size_t from, std::size_t* start,
                       std::size_t* end) const {
  MatchState& st = match_state();
  int rc = pcre2_jit_match(static_cast<pcre2_code*>(code_),
                           reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), from,
                           PCRE2_NO_UTF_CHECK, st.data, st.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  // rc == 0: the ovector (one pair) is too small for the groups, but pair 0 is set.
  GLYPH_CHECK(rc >= 0, TokenizerError, "Split regex match failed on a {}-byte text: {}",
              text.size(), pcre2_message(rc));
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.data);
  *start = ov[0];
  *end = ov[1];
  return true;
}

}  // namespace glyph::tok
