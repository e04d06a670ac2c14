// The VLM alone: a random GLM-4.1V from a config, pages as plain RGB arrays, greedy generation.
// Builds with GLYPH_WITH_RENDER=OFF (no FreeType, HarfBuzz, libdeflate, stb or PCRE2).
//
//   vlm_random [config.json] [device]     # default: a tiny config on the CPU
//                                         # (device: auto, cpu, cuda, cuda:N)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "glyph/common/error.h"
#include "glyph/common/file.h"
#include "glyph/vlm/config.h"
#include "glyph/vlm/glm4v.h"

using namespace glyph::vlm;

int main(int argc, char** argv) try {
  const std::string json =
      argc > 1 ? glyph::read_file(argv[1], "config")
               : R"({"model_type": "glm4v",
                    "text_config": {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 96,
                                    "num_hidden_layers": 2, "num_attention_heads": 4,
                                    "num_key_value_heads": 2,
                                    "rope_parameters": {"mrope_section": [1, 1, 2]}},
                    "vision_config": {"hidden_size": 32, "depth": 2, "num_heads": 2,
                                      "out_hidden_size": 64, "intermediate_size": 80,
                                      "image_size": 56},
                    "image_token_id": 511, "image_start_token_id": 509,
                    "image_end_token_id": 510, "video_start_token_id": 507,
                    "video_end_token_id": 508, "torch_dtype": "float32"})";
  LoadOptions opt;
  opt.device = parse_device(argc > 2 ? argv[2] : "cpu");
  Glm4v model = Glm4v::random(parse_config(json, "config"), opt, /*seed=*/1);
  const Glm4vConfig& c = model.config();

  // A page as the renderer would hand it over: RGB bytes, rows packed.
  const int w = 112, h = 84;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * h * 3);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>((i * 37) % 251);
  ImageBatch images = model.image_processor().process({ImageView{rgb.data(), w, h}});

  std::vector<std::int64_t> ids = {1, 2, 3, c.image_start_token_id};
  ids.insert(ids.end(), images.tokens_per_image[0], c.image_token_id);
  ids.insert(ids.end(), {c.image_end_token_id, 4, 5, 6});
  GenerateOptions g;
  g.max_new_tokens = 8;
  g.stop_ids = {-1};
  GenerateResult r = model.generate(ids, &images, g);
  std::printf("%d visual tokens, %zu new tokens:", images.tokens_per_image[0], r.tokens.size());
  for (auto t : r.tokens) std::printf(" %lld", static_cast<long long>(t));
  std::printf("\n");
  return r.tokens.size() == 8 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "vlm_random: %s\n", e.what());
  return 2;
}
