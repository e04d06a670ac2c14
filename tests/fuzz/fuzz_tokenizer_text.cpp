// Arbitrary text through a real byte-level BPE tokenizer.json (trained with Hugging Face
// `tokenizers` by tests/fuzz/make_seeds.py: GLM-4's split pattern, GLM's special tokens, two
// added tokens): valid UTF-8 must round-trip exactly (decode(encode(t)) == t), count must equal
// the number of ids, and invalid UTF-8 must be an InputError.
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "glyph/common/utf8.h"
#include "glyph/tokenizer/tokenizer.h"

#ifndef GLYPH_FUZZ_TOKENIZER_JSON
#error "GLYPH_FUZZ_TOKENIZER_JSON (the path of the real tokenizer.json) must be defined"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const glyph::Tokenizer tok = glyph::Tokenizer::from_file(GLYPH_FUZZ_TOKENIZER_JSON);
  glyph_fuzz::Input in{data, size};
  const bool special = in.byte() & 1;
  const std::string_view text = in.rest();
  const bool valid = glyph::decode_utf8(text).invalid_sequences == 0;
  std::vector<std::int32_t> ids;
  const bool ok = glyph_fuzz::accepts([&] { ids = tok.encode(text, special); });
  FUZZ_EXPECT(ok == valid, "encode %s %s UTF-8", ok ? "accepted" : "refused",
              valid ? "valid" : "invalid");
  if (!ok) return 0;
  FUZZ_EXPECT(tok.count(text, special) == ids.size(), "count differs from encode");
  std::string back = tok.decode(ids, /*skip_special_tokens=*/false);
  if (!special) {
    FUZZ_EXPECT(back == text, "round trip changed the text (%zu -> %zu bytes)", text.size(),
                back.size());
  }
  // The batch path gives the same ids.
  auto batch = tok.encode_batch({std::string(text), std::string(text)}, special, 1);
  FUZZ_EXPECT(batch.size() == 2 && batch[0] == ids && batch[1] == ids, "encode_batch differs");
  return 0;
}
