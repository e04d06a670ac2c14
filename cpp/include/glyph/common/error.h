// One exception hierarchy for all of glyphcpp. Each type maps to one Python exception
// (bindings/module.cpp). User input is checked where it enters and the message names the
// offending key, file or value.
#pragma once

#include <stdexcept>
#include <string>

namespace glyph {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A RenderConfig key holds a bad value, or a config file cannot be read/parsed.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A font file is missing, unreadable or not a font.
class FontError : public Error {
 public:
  using Error::Error;
};

// A file or folder cannot be read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// Bad input data (text, images, ids) given to an API call.
class InputError : public Error {
 public:
  using Error::Error;
};

class TokenizerError : public Error {
 public:
  using Error::Error;
};

class ModelLoadError : public Error {
 public:
  using Error::Error;
};

class SearchError : public Error {
 public:
  using Error::Error;
};

// Memory ran out (host or device); the message says what to reduce.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

// A feature that glyphcpp does not implement (yet); never a silent wrong answer.
class NotImplementedError : public Error {
 public:
  using Error::Error;
};

}  // namespace glyph
