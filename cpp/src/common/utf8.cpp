#include "glyph/common/utf8.h"

#include <algorithm>

namespace glyph {

namespace {

// Decodes s into out. With `final` false, a sequence that is valid so far but cut off by the end
// of `s` is left undecoded: the return value is where it starts (s.size() when nothing is left).
// Stopping there is exact: the byte it starts with is a lead byte, which no earlier sequence can
// take as a continuation, so the decoding of what comes before does not depend on what follows.
std::size_t decode_into(std::string_view s, std::u32string& codepoints, std::size_t& invalid,
                        bool final) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto bad = [&]() {
    codepoints.push_back(0xFFFD);
    ++invalid;
  };
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      codepoints.push_back(c);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      bad();
      ++i;
      continue;
    }
    // Consume the maximal valid prefix; on failure emit one U+FFFD for it (Python semantics).
    std::size_t j = i + 1;
    bool ok = true;
    for (int k = 1; k < len; ++k, ++j) {
      unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
      if (j >= n && !final) return i;  // cut off: wait for the rest
      if (j >= n || p[j] < lo_k || p[j] > hi_k) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (p[j] & 0x3F);
    }
    if (!ok) {
      bad();
      i = j;
      continue;
    }
    codepoints.push_back(cp);
    i = j;
  }
  return n;
}

}  // namespace

DecodedText decode_utf8(std::string_view s) {
  DecodedText out;
  out.codepoints.reserve(s.size());
  decode_into(s, out.codepoints, out.invalid_sequences, /*final=*/true);
  return out;
}

void Utf8Decoder::decode(std::string_view bytes, std::u32string& out) {
  if (pending_.empty()) {
    const std::size_t used = decode_into(bytes, out, invalid_, false);
    pending_.assign(bytes.substr(used));
    return;
  }
  // Complete the cut sequence with the first bytes of this piece, then go on in the piece.
  const std::size_t had = pending_.size();
  const std::size_t take = std::min<std::size_t>(bytes.size(), 4);
  pending_.append(bytes.substr(0, take));
  const std::size_t used = decode_into(pending_, out, invalid_, false);
  if (used < had) {  // the piece was too short to finish it (all continuation bytes)
    pending_.resize(had);
    pending_.append(bytes);  // at most 3 bytes in all: it is still one cut-off sequence
    return;
  }
  // `used - had` bytes of this piece were consumed with the pending ones... or the decoder
  // stopped inside the appended bytes at a new sequence that they cut off: restart from there.
  pending_.clear();
  decode(bytes.substr(used - had), out);
}

void Utf8Decoder::finish(std::u32string& out) {
  if (!pending_.empty()) decode_into(pending_, out, invalid_, /*final=*/true);
  pending_.clear();
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

}  // namespace glyph
