// PNG writing at odd sizes: a page of width x height (1..257 each, read from the input, so 1x1,
// 1xN, Nx1, odd and non-multiple-of-8 sizes all occur) with pixels from the input, at a
// compression level 0..9 from the input. The file must decode (stb_image, an independent
// decoder) to exactly the page's size and pixels, and write_png must write the same bytes.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>
#include <unistd.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb_image.h>

#include "fuzz_common.h"
#include "glyph/render/png.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  glyph_fuzz::Input in{data, size};
  glyph::Page page;
  page.width = 1 + in.byte() % 257;
  page.height = 1 + in.byte() % 257;
  const int level = in.byte() % 10;
  const std::size_t n = static_cast<std::size_t>(page.width) * page.height * 3;
  page.pixels.resize(n);
  const std::string_view px = in.rest();
  for (std::size_t i = 0; i < n; ++i)
    page.pixels[i] = px.empty() ? static_cast<std::uint8_t>(i * 131) : px[i % px.size()];
  std::vector<unsigned char> png;
  FUZZ_EXPECT(glyph_fuzz::accepts([&] { png = glyph::encode_png(page, level); }),
              "encode_png refused a %dx%d page", page.width, page.height);
  int w = 0, h = 0, c = 0;
  unsigned char* dec = stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 3);
  FUZZ_EXPECT(dec != nullptr, "stb_image cannot decode the PNG: %s", stbi_failure_reason());
  FUZZ_EXPECT(w == page.width && h == page.height, "decoded %dx%d, wrote %dx%d", w, h, page.width,
              page.height);
  FUZZ_EXPECT(std::memcmp(dec, page.pixels.data(), n) == 0, "decoded pixels differ");
  stbi_image_free(dec);
  // Every 16th input also goes through write_png (the file path), which must write the same bytes.
  if (size % 16 == 0) {
    static const std::string path = "/tmp/glyph-fuzz-png-" + std::to_string(getpid()) + ".png";
    FUZZ_EXPECT(glyph_fuzz::accepts([&] { glyph::write_png(page, path, level); }), "write_png");
    std::ifstream f(path, std::ios::binary);
    std::vector<unsigned char> disk((std::istreambuf_iterator<char>(f)), {});
    FUZZ_EXPECT(disk == png, "write_png wrote other bytes than encode_png");
    std::remove(path.c_str());
  }
  return 0;
}
