// Unicode NFC (canonical decomposition, canonical ordering, canonical composition; UAX #15), as
// the `NFC` normalizer of `tokenizers` applies it: with the Unicode 9.0.0 data of the
// normalization crate it uses (nfc_tables.inc, scripts/gen_unicode_tables.py --nfc), so that a
// character assigned later is a starter that neither decomposes nor composes, as there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace glyph::tok {

// Whether NFC may change a text holding `cp`: a non-zero combining class, a character NFC
// replaces, or one that composes with the character before it. A text without any such
// character is NFC already; each character that is not one starts a stretch that normalizes
// independently of the text before it.
bool nfc_may_change(char32_t cp);

// NFC of `text` (valid UTF-8): `text` itself when it is NFC already (the common case: one scan,
// no copy), else the normalized text, written into `buf`.
std::string_view nfc(std::string_view text, std::string& buf);

}  // namespace glyph::tok
