// Minimal fixed-size thread pool for batch work (rendering many texts, batch tokenisation).
#pragma once

#include <cstddef>
#include <functional>

namespace glyph {

// Number of hardware threads (at least 1).
int hardware_threads();

// Runs fn(i) for i in [0, n) on `threads` workers (<= 0: all cores). Items are handed out in
// order; the first exception thrown by any item is rethrown after all workers stop.
void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& fn);

}  // namespace glyph
