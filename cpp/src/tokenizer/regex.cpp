#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>

#include "common/check.h"
#include "tokenizer/unicode.h"
#include "glyph/common/utf8.h"

namespace glyph::tok {
namespace {

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
        // Oniguruma's \s is White_Space; PCRE2's lacks U+0085. Its \p{L}/\p{N} are Unicode 16,
        // the system PCRE2's may be older: all three are spelled out as code-point ranges.
        case 's':
        case 'p':
        case 'P': {
          std::string body;
          bool negate = false;
          if (e == 's') {
            body = pcre2_white_space();
          } else {
            std::string name;
            if (i + 1 < p.size() && p[i + 1] == '{') {
              std::size_t close = p.find('}', i + 2);
              GLYPH_CHECK(close != std::string_view::npos, TokenizerError,
                          "Unterminated \\{}{{ in Split pattern {}", e, p);
              name = std::string(p.substr(i + 2, close - i - 2));
              i = close;
            } else {
              GLYPH_CHECK(i + 1 < p.size(), TokenizerError, "Bad \\{} in Split pattern {}", e, p);
              name = std::string(1, p[++i]);
            }
            if (!name.empty() && name[0] == '^') {
              negate = !negate;
              name = name.substr(1);
            }
            if (e == 'P') negate = !negate;
            GLYPH_CHECK(name == "L" || name == "N", TokenizerError,
                        "Unsupported Unicode property '\\p{{{}}}' in Split pattern {} (only "
                        "\\p{{L}} and \\p{{N}} are supported)",
                        name, p);
            body = pcre2_ranges(name == "L" ? kLetter : kNumber);
          }
          if (in_class) {
            GLYPH_CHECK(!negate, TokenizerError,
                        "Unsupported negated class escape inside a character class in Split "
                        "pattern {}",
                        p);
            out += body;
          } else {
            out += negate ? "[^" : "[";
            out += body;
            out += ']';
          }
          break;
        }
        case 'S':
          GLYPH_CHECK(!in_class, TokenizerError,
                      "Unsupported regex construct '\\S' inside a character class in Split "
                      "pattern {}",
                      p);
          out += "[^";
          out += pcre2_white_space();
          out += ']';
          break;
        case 'd':
        case 'D':
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
          // Their Unicode meaning (or version) differs between Oniguruma and PCRE2, or PCRE2
          // reads the syntax otherwise: refuse instead of risking different splits.
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

namespace {

// The split patterns of GPT-4 (cl100k) / GLM-4 / Llama 3, Qwen2 (one digit per piece) and
// GPT-2. They are matched by hand (same leftmost-first alternation semantics) with the Unicode
// 16 class table: several times faster than a regex engine, and independent of its version.
constexpr std::string_view kCl100kPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";


struct Char {
  char32_t cp = 0;
  std::size_t len = 0;
  std::uint8_t cls = 0;
};

inline Char char_at(std::string_view t, std::size_t pos) {
  Char c;
  c.cp = utf8_decode_valid_at(t, pos, &c.len);
  c.cls = char_class(c.cp);
  return c;
}

inline bool is_other(std::uint8_t cls) { return cls == kOther; }

// End of the run of characters whose class has any of `mask` bits, from `pos`.
inline std::size_t run_of(std::string_view t, std::size_t pos, std::uint8_t mask) {
  while (pos < t.size()) {
    Char c = char_at(t, pos);
    if (!(c.cls & mask)) break;
    pos += c.len;
  }
  return pos;
}

inline std::size_t run_other(std::string_view t, std::size_t pos) {
  while (pos < t.size()) {
    Char c = char_at(t, pos);
    if (!is_other(c.cls)) break;
    pos += c.len;
  }
  return pos;
}

// 's 't 're 've 'm 'll 'd after the apostrophe at `pos` - 1; 0 if none. Caseless matching
// (Oniguruma's Unicode case folding) also lets U+017F LONG S stand for s.
std::size_t contraction_end(std::string_view t, std::size_t pos, bool caseless) {
  auto lower = [&](std::size_t k) -> int {
    if (k >= t.size()) return -1;
    unsigned char c = static_cast<unsigned char>(t[k]);
    if (caseless && c >= 'A' && c <= 'Z') return c - 'A' + 'a';
    return c;
  };
  int c = lower(pos);
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return pos + 1;
  if (caseless && c == 0xC5 && lower(pos + 1) == 0xBF) return pos + 2;  // U+017F
  if ((c == 'r' || c == 'v') && lower(pos + 1) == 'e') return pos + 2;
  if (c == 'l' && lower(pos + 1) == 'l') return pos + 2;
  return 0;
}

// Whitespace alternatives from `pos` (a whitespace character): \s*[\r\n]+ (if `newlines`),
// \s+(?!\S), \s+.
std::size_t whitespace_end(std::string_view t, std::size_t pos, bool newlines) {
  std::size_t e = pos, last_start = pos, after_newline = 0;
  while (e < t.size()) {
    Char c = char_at(t, e);
    if (!(c.cls & kSpace)) break;
    if (c.cp == '\r' || c.cp == '\n') after_newline = e + 1;
    last_start = e;
    e += c.len;
  }
  if (newlines && after_newline) return after_newline;
  if (e == t.size()) return e;
  if (last_start > pos) return last_start;  // give the last space to the next piece
  return e;
}

}  // namespace

std::size_t Regex::fast_match_end(std::string_view t, std::size_t pos) const {
  Char c0 = char_at(t, pos);
  const bool gpt2 = fast_ == Fast::kGpt2;
  if (c0.cp == '\'') {
    if (std::size_t e = contraction_end(t, pos + 1, !gpt2)) return e;
  }
  if (gpt2) {
    std::size_t p = pos;
    Char c = c0;
    if (c0.cp == ' ' && pos + 1 < t.size()) {
      Char c1 = char_at(t, pos + 1);
      if (!(c1.cls & kSpace)) {
        p = pos + 1;
        c = c1;
      }
    }
    if (c.cls & kLetter) return run_of(t, p + c.len, kLetter);
    if (c.cls & kNumber) return run_of(t, p + c.len, kNumber);
    if (is_other(c.cls)) return run_other(t, p + c.len);
    return whitespace_end(t, pos, /*newlines=*/false);
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c0.cls & kLetter) return run_of(t, pos + c0.len, kLetter);
  const bool prefix_ok = !(c0.cls & (kLetter | kNumber)) && c0.cp != '\r' && c0.cp != '\n';
  std::size_t p1 = pos + c0.len;
  Char c1;
  if (p1 < t.size()) c1 = char_at(t, p1);
  if (prefix_ok && p1 < t.size() && (c1.cls & kLetter)) return run_of(t, p1 + c1.len, kLetter);
  // \p{N}{1,max}
  if (c0.cls & kNumber) {
    std::size_t e = p1;
    for (int n = 1; n < max_digits_ && e < t.size(); ++n) {
      Char c = char_at(t, e);
      if (!(c.cls & kNumber)) break;
      e += c.len;
    }
    return e;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const bool spaced_other = c0.cp == ' ' && p1 < t.size() && is_other(c1.cls);
  if (spaced_other || is_other(c0.cls)) {
    std::size_t e = run_other(t, spaced_other ? p1 : pos);
    while (e < t.size() && (t[e] == '\r' || t[e] == '\n')) ++e;
    return e;
  }
  return whitespace_end(t, pos, /*newlines=*/true);
}

Regex::Regex(std::string_view onig_pattern) : pattern_(onig_pattern) {
  if (onig_pattern == kCl100kPattern) {
    fast_ = Fast::kCl100k;
    max_digits_ = 3;
    return;
  }
  if (onig_pattern == kQwen2Pattern) {
    fast_ = Fast::kCl100k;
    max_digits_ = 1;
    return;
  }
  if (onig_pattern == kGpt2SplitPattern) {
    fast_ = Fast::kGpt2;
    return;
  }
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
