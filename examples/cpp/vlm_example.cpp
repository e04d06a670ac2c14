// Asks GLM-4.1V (Glyph) a question about a text file, through rendered pages, from C++.
//   vlm_example MODEL_DIR TEXT_FILE QUESTION [auto|cpu|cuda|cuda:N] [float32|bfloat16]
// MODEL_DIR holds config.json, the safetensors weights and tokenizer.json.
#include <fstream>
#include <iostream>
#include <sstream>

#include <glyph/glyph.h>
#include <glyph/tokenizer/tokenizer.h>
#include <glyph/vlm/glm4v.h>
#include <glyph/vlm/pipeline.h>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR TEXT_FILE QUESTION [DEVICE] [DTYPE]\n";
    return 2;
  }
  try {
    using namespace glyph::vlm;
    LoadOptions opt;
    opt.device = parse_device(argc > 4 ? argv[4] : "auto");  // InputError naming a bad one
    if (argc > 5 && std::string(argv[5]) == "bfloat16") opt.dtype = at::kBFloat16;
    const std::string dir = argv[1];
    Glm4v model = Glm4v::from_pretrained(dir, opt);
    glyph::Tokenizer tok = glyph::Tokenizer::from_file(dir + "/tokenizer.json");

    std::ifstream in(argv[2], std::ios::binary);
    if (!in) {
      std::cerr << "cannot read " << argv[2] << "\n";
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();

    GenerateOptions gen;
    gen.max_new_tokens = 64;
    gen.on_token = [&](std::int64_t t) {  // stream the answer as it is generated
      std::cout << tok.decode({static_cast<std::int32_t>(t)}, true) << std::flush;
      return true;
    };
    Answer a = ask(glyph::Renderer(), model, tok, ss.str(), argv[3], gen);
    std::cout << "\n\npages " << a.pages << ", text tokens " << a.text_tokens << ", visual tokens "
              << a.visual_tokens << " (compression " << a.compression() << "), prefill "
              << a.prefill_seconds << " s, decode " << a.decode_seconds << " s ("
              << a.stop_reason << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
