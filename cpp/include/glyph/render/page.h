// Page: one rendered page image plus what it shows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace glyph {

// std::allocator whose resize() leaves new elements uninitialised instead of zero-filling them:
// page buffers are written in full right after they are sized, and zero-filling 1.5 MB per page
// first cost a tenth of the rendering time.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() noexcept = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

// Pixel storage: a std::vector<std::uint8_t> in every respect except that resize() does not
// zero-fill (assign() and the size-and-value constructor still set every byte).
using PixelBuffer = std::vector<std::uint8_t, UninitAllocator<std::uint8_t>>;

struct Page {
  int width = 0;
  int height = 0;
  PixelBuffer pixels;                // RGB, row-major, 3 * width bytes per row
  std::size_t index = 0;             // 0-based page number
  // Span of the source text this page shows, in code points (Python str indices): [begin, end).
  std::size_t char_begin = 0;
  std::size_t char_end = 0;
  int visual_tokens = 0;  // GLM-4.1V image-processor tokens for this page (smart_resize)

  std::uint8_t* row(int y) { return pixels.data() + static_cast<std::size_t>(y) * width * 3; }
  const std::uint8_t* row(int y) const {
    return pixels.data() + static_cast<std::size_t>(y) * width * 3;
  }
  // Glyph's file name for this page: page_001.png, ...
  std::string file_name() const;
};

}  // namespace glyph
