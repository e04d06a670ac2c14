// Whole files in and out: the one reader and the one atomic writer glyphcpp uses, both throwing
// IoError that names the file and what it was meant to be.
//
//   std::string text = glyph::read_file("config_en.json", "config file");
//   glyph::write_file_atomic("out/page_001.png", bytes, "page");   // never leaves a torn file
#pragma once

#include <string>
#include <string_view>

namespace glyph {

// The whole file as bytes. IoError: "cannot open <what> '<path>': <reason>" (missing, a folder,
// no permission) or "error while reading <what> '<path>'".
std::string read_file(const std::string& path, std::string_view what = "file");

// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: readers see the
// old file or the whole new one, never a part, and a crash leaves no truncated `path` behind.
// IoError names the path; the temporary file is removed on failure.
void write_file_atomic(const std::string& path, std::string_view bytes,
                       std::string_view what = "file");

}  // namespace glyph
