// Renders a text file with Glyph's default config and writes the pages as PNG files.
//   render_example input.txt out_dir [config.json]
#include <fstream>
#include <iostream>
#include <sstream>

#include <glyph/glyph.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " TEXT_FILE OUT_DIR [CONFIG_JSON]\n";
    return 2;
  }
  try {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
      std::cerr << "cannot read " << argv[1] << "\n";
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    glyph::RenderConfig config =
        argc > 3 ? glyph::RenderConfig::from_file(argv[3]) : glyph::RenderConfig::glyph_default();
    glyph::Renderer renderer(config);
    std::vector<std::string> paths = renderer.render_to_dir(ss.str(), argv[2]);
    glyph::RenderResult result = renderer.render(ss.str());
    std::cout << "font: " << config.font_path << "\n";
    std::cout << "pages: " << result.stats.pages << ", visual tokens: " << result.stats.visual_tokens
              << ", first page: " << (paths.empty() ? "-" : paths.front()) << "\n";
  } catch (const glyph::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
