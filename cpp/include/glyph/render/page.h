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

namespace detail {
// Pixel memory. Buffers of 256 KiB and more come from, and return to, a process-wide pool of
// freed buffers (kept up to GLYPH_PAGE_POOL_MB, default 64 MB, and reused only at the same size):
// pages freed after one render serve the next without the kernel faulting in and zeroing fresh
// memory, which on the VMs we measured cost a fifth of the time of rendering pages that are kept.
// Fresh large buffers are mapped in one call (MADV_POPULATE_WRITE) rather than one fault per
// 4 KiB. Smaller buffers are plain operator new.
void* allocate_pixels(std::size_t bytes);
void deallocate_pixels(void* p, std::size_t bytes) noexcept;
}  // namespace detail

// std::allocator whose resize() leaves new elements uninitialised instead of zero-filling them
// (page buffers are written in full right after they are sized; zero-filling 1.5 MB per page
// first cost a tenth of the rendering time), with memory from detail::allocate_pixels.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() noexcept = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(detail::allocate_pixels(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { detail::deallocate_pixels(p, n * sizeof(T)); }
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
