#include "vlm/ops/page_patches.h"

#include <c10/util/Exception.h>

#include <cstring>
#include <tuple>
#include <utility>

#include "glyph/render/image.h"
#include "glyph/render/vision_tokens.h"
#include "vlm/ops/page_patches_core.h"
#include "vlm/ops/patch_embed.h"

namespace glyph::vlm::ops {

static_assert(pp::kBits == kResizePrecisionBits, "the op's fixed point must be resize_bicubic's");

namespace {

// One axis' records (first input, count, ksize weights) appended to `tables`; identity when the
// side keeps its size (resize_bicubic skips that pass: a weight of 1.0 reproduces it exactly).
std::pair<std::int64_t, int> append_axis(std::vector<std::int32_t>& tables, int in, int out) {
  const auto at = static_cast<std::int64_t>(tables.size());
  if (in == out) {
    for (int o = 0; o < out; ++o) tables.insert(tables.end(), {o, 1, 1 << pp::kBits});
    return {at, 1};
  }
  const BicubicCoeffs c = bicubic_coeffs(in, out);
  for (int o = 0; o < out; ++o) {
    tables.push_back(c.bounds[2 * o]);
    tables.push_back(c.bounds[2 * o + 1]);
    tables.insert(tables.end(), c.k.begin() + static_cast<std::ptrdiff_t>(o) * c.ksize,
                  c.k.begin() + static_cast<std::ptrdiff_t>(o + 1) * c.ksize);
  }
  return {at, c.ksize};
}

bool float_type(at::ScalarType t) {
  return t == at::kFloat || t == at::kHalf || t == at::kBFloat16 || t == at::kDouble;
}

}  // namespace

ImageBatch page_patches(const at::Tensor& pixels, const at::Tensor& sizes,
                        const ImageProcessorParams& params, at::ScalarType dtype) {
  constexpr const char* op = "page_patches";
  TORCH_CHECK(pixels.defined() && pixels.scalar_type() == at::kByte && pixels.dim() == 1, op,
              ": pixels must be a 1-D uint8 tensor (the pages' RGB bytes back to back), got ",
              pixels.defined() ? c10::toString(pixels.scalar_type()) : "undefined", " ",
              pixels.defined() ? pixels.sizes() : at::IntArrayRef{});
  TORCH_CHECK(pixels.is_contiguous(), op, ": pixels must be contiguous");
  TORCH_CHECK(sizes.defined() && sizes.dim() == 2 && sizes.size(1) == 2 &&
                  (sizes.scalar_type() == at::kLong || sizes.scalar_type() == at::kInt),
              op, ": sizes must be an int64 [pages, 2] tensor of (height, width), got ",
              sizes.defined() ? c10::toString(sizes.scalar_type()) : "undefined", " ",
              sizes.defined() ? sizes.sizes() : at::IntArrayRef{});
  TORCH_CHECK(sizes.device().is_cpu(), op, ": sizes must be on the CPU (the plan is made there), got ",
              sizes.device());
  TORCH_CHECK(sizes.size(0) > 0, op, ": no pages given (sizes is empty)");
  TORCH_CHECK(float_type(dtype), op, ": dtype must be float32, float64, float16 or bfloat16, got ",
              dtype);
  const auto& rp = params.resize;
  const int ps = rp.patch_size, m = rp.merge_size, tps = rp.temporal_patch_size;
  TORCH_CHECK(ps > 0 && m > 0 && tps > 0, op, ": patch_size, merge_size and temporal_patch_size "
              "must be positive, got ", ps, ", ", m, ", ", tps);
  TORCH_CHECK(!params.do_normalize || (params.image_std[0] != 0 && params.image_std[1] != 0 &&
                                       params.image_std[2] != 0),
              op, ": image_std holds a zero");

  const at::Tensor hw = sizes.to(at::kLong).contiguous();
  const std::int64_t* s = hw.data_ptr<std::int64_t>();
  const std::int64_t n = hw.size(0);
  // Value table: exactly ImageProcessor::process's arithmetic for every byte of every channel.
  std::vector<std::int32_t> tables(pp::kLutSize);
  for (int c = 0; c < 3; ++c)
    for (int b = 0; b < 256; ++b) {
      float v = static_cast<float>(b);
      if (params.do_rescale) v = static_cast<float>(b * params.rescale_factor);
      if (params.do_normalize) v = (v - params.image_mean[c]) / params.image_std[c];
      std::memcpy(&tables[c * 256 + b], &v, sizeof v);
    }
  at::Tensor meta = at::empty({n, pp::kMetaCols}, at::kLong);
  std::int64_t* md = meta.data_ptr<std::int64_t>();
  std::vector<std::int64_t> grids;
  ImageBatch out;
  std::int64_t offset = 0, patches = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t h = s[2 * i], w = s[2 * i + 1];
    TORCH_CHECK(h > 0 && w > 0 && h <= (1 << 20) && w <= (1 << 20), op, ": page ", i, " is ", w,
                "x", h, " (width x height; sizes row ", i, "): each side must be in [1, 2^20]");
    int dh = static_cast<int>(h), dw = static_cast<int>(w);
    if (params.do_resize) {
      const ResizedSize r = smart_resize(dh, dw, rp);  // InputError on a bad aspect ratio
      dh = r.height;
      dw = r.width;
    }
    TORCH_CHECK(dh % (ps * m) == 0 && dw % (ps * m) == 0, op, ": page ", i, " is ", dw, "x", dh,
                ", not a multiple of ", ps * m, " (enable resize)");
    std::int64_t* row = md + i * pp::kMetaCols;
    row[pp::kSrcOffset] = offset;
    row[pp::kSrcH] = h;
    row[pp::kSrcW] = w;
    row[pp::kDstH] = dh;
    row[pp::kDstW] = dw;
    row[pp::kPatchBegin] = patches;
    std::tie(row[pp::kYTable], row[pp::kYKsize]) = append_axis(tables, static_cast<int>(h), dh);
    std::tie(row[pp::kXTable], row[pp::kXKsize]) = append_axis(tables, static_cast<int>(w), dw);
    offset += h * w * 3;
    const std::int64_t gh = dh / ps, gw = dw / ps;
    patches += gh * gw;
    grids.insert(grids.end(), {1, gh, gw});
    out.tokens_per_image.push_back(static_cast<int>(gh * gw / (m * m)));
  }
  TORCH_CHECK(offset == pixels.numel(), op, ": sizes describe ", offset,
              " bytes (H * W * 3 summed over pages) but pixels holds ", pixels.numel());
  TORCH_CHECK(tables.size() < (std::size_t{1} << 31), op, ": resampling tables too large");
  out.grid_thw = at::tensor(grids, at::kLong).reshape({n, 3});

  PagePatchPlan p;
  p.pages = n;
  p.patches = patches;
  p.patch = ps;
  p.merge = m;
  p.temporal = tps;
  const std::int64_t k = 3 * tps * ps * ps;
  const auto i32 = at::TensorOptions().dtype(at::kInt);
  at::Tensor host_tables = at::from_blob(tables.data(), {static_cast<std::int64_t>(tables.size())},
                                         i32);
#ifdef GLYPH_WITH_CUDA
  if (pixels.is_cuda()) {
    p.pixels = pixels;
    p.meta = meta.to(pixels.device());
    p.tables = host_tables.to(pixels.device());  // copies: `tables` dies with this frame
    p.out = at::empty({patches, k}, pixels.options().dtype(dtype));
    if (cuda::page_patches_supported(p)) {
      cuda::page_patches_kernel(p);
      out.pixel_values = p.out;
      return out;
    }
  }
#endif
  // The CPU kernel, for CPU pages and anything the CUDA kernel does not take: float32 (what
  // process makes), then rounded to dtype as the model's .to(dtype) would.
  p.pixels = pixels.cpu();
  p.meta = meta;
  p.tables = host_tables;
  p.out = at::empty({patches, k}, at::kFloat);
  cpu::page_patches_kernel(p);
  out.pixel_values = p.out.to(pixels.device(), dtype);
  return out;
}

PageEmbedding page_patch_embed(const at::Tensor& pixels, const at::Tensor& sizes,
                               const ImageProcessorParams& params, const at::Tensor& weight,
                               const at::Tensor& bias) {
  TORCH_CHECK(weight.defined() && pixels.defined() && pixels.device() == weight.device(),
              "page_patch_embed: pixels (", pixels.defined() ? pixels.device() : at::Device(at::kCPU),
              ") must be on the weight's device (",
              weight.defined() ? weight.device() : at::Device(at::kCPU), ")");
  ImageBatch b = page_patches(pixels, sizes, params, weight.scalar_type());
  return {patch_embed(b.pixel_values, weight, bias), b.grid_thw, b.tokens_per_image};
}

std::pair<at::Tensor, at::Tensor> pack_pages(const std::vector<ImageView>& images, bool pinned) {
  TORCH_CHECK(!images.empty(), "pack_pages: no images given");
  std::int64_t total = 0;
  at::Tensor sizes = at::empty({static_cast<std::int64_t>(images.size()), 2}, at::kLong);
  std::int64_t* sd = sizes.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < images.size(); ++i) {
    const ImageView& im = images[i];
    TORCH_CHECK(im.rgb && im.width > 0 && im.height > 0, "pack_pages: image ", i, " is empty (",
                im.width, "x", im.height, ")");
    sd[2 * i] = im.height;
    sd[2 * i + 1] = im.width;
    total += static_cast<std::int64_t>(im.width) * im.height * 3;
  }
  at::Tensor pixels = at::empty({total}, at::TensorOptions().dtype(at::kByte).pinned_memory(pinned));
  std::uint8_t* d = pixels.data_ptr<std::uint8_t>();
  for (const ImageView& im : images) {
    const std::size_t bytes = static_cast<std::size_t>(im.width) * im.height * 3;
    std::memcpy(d, im.rgb, bytes);
    d += bytes;
  }
  return {pixels, sizes};
}

}  // namespace glyph::vlm::ops
