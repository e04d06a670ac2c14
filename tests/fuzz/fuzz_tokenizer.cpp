// tokenizer.json bytes: load (Tokenizer::from_json); for every file that loads, encode a few fixed
// texts (special tokens on and off), count == encode().size(), every id inside the vocabulary,
// decode and tokenize without a crash, and decode(encode(t)) == t where the file is a plain
// byte-level BPE with every byte in its vocabulary (what real GLM-4/Qwen2 files are).
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "glyph/tokenizer/tokenizer.h"

namespace {
const char* kTexts[] = {"", "Hello, world! 123 4567", "  leading spaces\n\nand\r\nlines\t\ttabs",
                        "\xe4\xb8\xad\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95 mixed \xf0\x9f\x98\x80",
                        "<|endoftext|>[gMASK]<sop><think>x</think>", "'s 'T 've don't",
                        // NFD accents, reordering, Hangul jamo (for files with an NFC normalizer)
                        "cafe\xcc\x81 q\xcc\x81\xcc\xa3 \xe1\x84\x80\xe1\x85\xa1 <think> x"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  // The tokenizer_config.json half is not fuzzed here (a small JSON object of roles).
  std::optional<glyph::Tokenizer> tok;
  if (!glyph_fuzz::accepts([&] { tok.emplace(glyph::Tokenizer::from_json(json)); })) return 0;
  const std::size_t vocab = tok->vocab_size();
  for (const char* t : kTexts) {
    for (bool special : {false, true}) {
      std::vector<std::int32_t> ids;
      if (!glyph_fuzz::accepts([&] { ids = tok->encode(t, special); })) continue;
      std::size_t n = 0;
      FUZZ_EXPECT(glyph_fuzz::accepts([&] { n = tok->count(t, special); }), "count refused");
      FUZZ_EXPECT(n == ids.size(), "count %zu, encode %zu ids", n, ids.size());
      for (auto id : ids)
        FUZZ_EXPECT(id >= 0 && static_cast<std::size_t>(id) < vocab, "id %d of vocab %zu", id,
                    vocab);
      std::string back;
      FUZZ_EXPECT(glyph_fuzz::accepts([&] { back = tok->decode(ids); }), "decode refused ids");
      (void)glyph_fuzz::accepts([&] { (void)tok->decode(ids, true); });
      (void)glyph_fuzz::accepts([&] { (void)tok->tokenize(t, special); });
      (void)glyph_fuzz::accepts([&] { (void)tok->normalize(t); });
    }
  }
  // Ids outside the vocabulary are an InputError, not a crash.
  (void)glyph_fuzz::accepts(
      [&] { (void)tok->decode({-1, 0, static_cast<std::int32_t>(vocab), 2147483647}); });
  for (std::size_t id = 0; id < vocab && id < 64; ++id) (void)tok->id_to_token(static_cast<int>(id));
  return 0;
}
