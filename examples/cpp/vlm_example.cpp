// Runs GLM-4.1V (Glyph) from C++ on a text file rendered into pages.
//   vlm_example MODEL_DIR TEXT_FILE [QUESTION_IDS] [cpu|cuda] [float32|bfloat16]
// QUESTION_IDS: the question's token ids, comma-separated (tokenize with the checkpoint's
// tokenizer; glyphcpp's C++ tokenizer builds them when it is present). Prints the new token ids.
#include <fstream>
#include <iostream>
#include <sstream>

#include <glyph/glyph.h>
#include <glyph/vlm/glm4v.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR TEXT_FILE [QUESTION_IDS] [DEVICE] [DTYPE]\n";
    return 2;
  }
  try {
    using namespace glyph::vlm;
    LoadOptions opt;
    if (argc > 4) opt.device = at::Device(argv[4]);
    if (argc > 5 && std::string(argv[5]) == "bfloat16") opt.dtype = at::kBFloat16;
    Glm4v model = Glm4v::from_pretrained(argv[1], opt);
    const Glm4vConfig& cfg = model.config();

    std::ifstream in(argv[2], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    glyph::RenderResult pages = glyph::Renderer().render(ss.str());
    std::vector<ImageView> views;
    for (const auto& p : pages.pages) views.push_back(view_of(p));
    ImageBatch images = model.image_processor().process(views);

    // [gMASK]<sop><|user|>\n <pages> question <|assistant|>\n   ("\n" is 198 in GLM-4's vocabulary)
    std::vector<std::int64_t> ids = {151331, 151333, 151336, 198};
    for (int n : images.tokens_per_image) {
      ids.push_back(cfg.image_start_token_id);
      ids.insert(ids.end(), n, cfg.image_token_id);
      ids.push_back(cfg.image_end_token_id);
    }
    if (argc > 3) {
      std::stringstream q(argv[3]);
      for (std::string tok; std::getline(q, tok, ',');) ids.push_back(std::stoll(tok));
    }
    ids.insert(ids.end(), {151337, 198});

    GenerateOptions gen;
    gen.max_new_tokens = 64;
    gen.on_token = [](std::int64_t t) { std::cout << t << " " << std::flush; return true; };
    GenerateResult r = model.generate(ids, &images, gen);
    std::cout << "\npages " << pages.pages.size() << ", prompt tokens " << r.prompt_tokens
              << ", prefill " << r.prefill_seconds << " s, decode " << r.decode_seconds << " s ("
              << r.stop_reason << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
