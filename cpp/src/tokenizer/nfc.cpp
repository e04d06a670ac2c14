#include "tokenizer/nfc.h"

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "glyph/common/utf8.h"

namespace glyph::tok {
namespace {

struct CodeRange {
  char32_t lo, hi;
};
struct CombiningRange {
  char32_t lo, hi;
  std::uint8_t ccc;
};
struct Decomposition {
  char32_t cp;
  std::uint16_t at, len;  // into kDecompositionChars
};
struct Composition {
  char32_t first, second, composite;
};

#include "tokenizer/nfc_tables.inc"

// Hangul syllables compose and decompose algorithmically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

struct Tables {
  std::vector<std::uint64_t> may_change;  // one bit per code point
  std::unordered_map<char32_t, std::uint8_t> ccc;
  std::unordered_map<char32_t, const Decomposition*> decomposition;
  std::unordered_map<std::uint64_t, char32_t> composition;  // first << 21 | second
  Tables() : may_change(0x110000 / 64, 0) {
    for (const CodeRange& r : kNfcCheckRanges)
      for (char32_t c = r.lo; c <= r.hi; ++c) may_change[c >> 6] |= std::uint64_t{1} << (c & 63);
    for (const CombiningRange& r : kCombiningRanges)
      for (char32_t c = r.lo; c <= r.hi; ++c) ccc[c] = r.ccc;
    for (const Decomposition& d : kDecompositions) decomposition[d.cp] = &d;
    for (const Composition& c : kCompositions)
      composition[(std::uint64_t{c.first} << 21) | c.second] = c.composite;
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

std::uint8_t combining_class(const Tables& t, char32_t cp) {
  auto it = t.ccc.find(cp);
  return it == t.ccc.end() ? 0 : it->second;
}

// The composite of starter `a` and `b`, or 0.
char32_t compose(const Tables& t, char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  auto it = t.composition.find((std::uint64_t{a} << 21) | b);
  return it == t.composition.end() ? 0 : it->second;
}


bool may_change(const Tables& t, char32_t cp) {
  return (t.may_change[cp >> 6] >> (cp & 63)) & 1;
}

// Appends NFC of the stretch `s` (valid UTF-8) to `out`.
void normalize_stretch(const Tables& t, std::string_view s, std::string& out) {
  thread_local std::u32string cps;
  thread_local std::vector<std::uint8_t> classes;
  cps.clear();
  // 1. Full canonical decomposition.
  for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
    const char32_t cp = utf8_decode_valid_at(s, i, &len);
    if (cp >= kSBase && cp < kSBase + kSCount) {
      const char32_t k = cp - kSBase;
      cps += kLBase + k / kNCount;
      cps += kVBase + (k % kNCount) / kTCount;
      if (k % kTCount) cps += kTBase + k % kTCount;
      continue;
    }
    auto it = cp < 0x80 ? t.decomposition.end() : t.decomposition.find(cp);
    if (it == t.decomposition.end()) {
      cps += cp;
    } else {
      cps.append(kDecompositionChars + it->second->at, it->second->len);
    }
  }
  // 2. Canonical ordering: each run of non-starters sorted by class, stably.
  classes.resize(cps.size());
  for (std::size_t i = 0; i < cps.size(); ++i) classes[i] = combining_class(t, cps[i]);
  for (std::size_t i = 0; i < cps.size();) {
    if (!classes[i]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < cps.size() && classes[j]) ++j;
    for (std::size_t a = i + 1; a < j; ++a)  // insertion sort: runs are short
      for (std::size_t b = a; b > i && classes[b - 1] > classes[b]; --b) {
        std::swap(classes[b - 1], classes[b]);
        std::swap(cps[b - 1], cps[b]);
      }
    i = j;
  }
  // 3. Canonical composition: a character joins the last starter unless blocked (something
  // between them of class 0 or of a class not below its own).
  std::size_t n = 0, starter = std::u32string::npos;
  int last = -1;  // class of the last character kept after the starter; -1: none
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const int cc = classes[i];
    if (starter != std::u32string::npos && (last < 0 || last < cc)) {
      if (char32_t comp = compose(t, cps[starter], c)) {
        cps[starter] = comp;
        continue;
      }
    }
    if (cc == 0) {
      starter = n;
      last = -1;
    } else {
      last = cc;
    }
    cps[n] = c;
    classes[n] = static_cast<std::uint8_t>(cc);
    ++n;
  }
  for (std::size_t i = 0; i < n; ++i) append_utf8(out, cps[i]);
}

}  // namespace

bool nfc_may_change(char32_t cp) { return cp < 0x110000 && may_change(tables(), cp); }

std::string_view nfc(std::string_view text, std::string& buf) {
  // No character below U+0300 may change (lead bytes below 0xCC): Latin text is one byte scan.
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n && static_cast<unsigned char>(text[i]) < 0xCC) ++i;
  if (i == n) return text;
  const Tables& t = tables();
  std::size_t copied = 0;      // text before this is in buf
  std::size_t safe = 0;        // start of the last character that may not change
  bool have_safe = false, changed = false;
  // Back up to the character that holds byte i.
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  // Characters before i are below U+0300; the one just before i (if any) starts a stretch.
  if (i > 0) {
    std::size_t p = i - 1;
    while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
    safe = p;
    have_safe = true;
  }
  while (i < n) {
    std::size_t len;
    const char32_t cp = utf8_decode_valid_at(text, i, &len);
    if (cp < 0x300 || !may_change(t, cp)) {
      safe = i;
      have_safe = true;
      i += len;
      continue;
    }
    // A stretch from the last safe character (it may compose with what follows) to the next.
    const std::size_t from = have_safe && safe >= copied ? safe : copied;
    std::size_t j = i + len;
    while (j < n) {
      std::size_t l;
      const char32_t c = utf8_decode_valid_at(text, j, &l);
      if (c < 0x300 || !may_change(t, c)) break;
      j += l;
    }
    if (!changed) {
      buf.clear();
      buf.reserve(text.size() + 16);
      changed = true;
    }
    buf.append(text.data() + copied, from - copied);
    normalize_stretch(t, text.substr(from, j - from), buf);
    copied = j;
    have_safe = false;
    i = j;
  }
  if (!changed) return text;
  buf.append(text.data() + copied, n - copied);
  return buf;
}

}  // namespace glyph::tok
