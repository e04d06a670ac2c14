#include "glyph/vlm/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/check.h"
#include "glyph/common/file.h"

namespace glyph::vlm {

namespace fs = std::filesystem;
using nlohmann::json;

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY);
    GLYPH_CHECK(fd_ >= 0, ModelLoadError, "cannot open weights file {}: {}", path,
                std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      GLYPH_THROW(ModelLoadError, "cannot stat {}", path);
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        ::close(fd_);
        GLYPH_THROW(ModelLoadError, "cannot mmap {}: {}", path, std::strerror(errno));
      }
      data_ = static_cast<const std::uint8_t*>(p);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::uint8_t* data() const { return data_; }
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  const std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
};

namespace {

struct DtypeInfo {
  at::ScalarType type;
  int bytes;
};

bool dtype_of(const std::string& s, DtypeInfo& out) {
  static const std::map<std::string, DtypeInfo> table = {
      {"F32", {at::kFloat, 4}}, {"F16", {at::kHalf, 2}},   {"BF16", {at::kBFloat16, 2}},
      {"F64", {at::kDouble, 8}}, {"I64", {at::kLong, 8}},  {"I32", {at::kInt, 4}},
      {"I16", {at::kShort, 2}},  {"I8", {at::kChar, 1}},   {"U8", {at::kByte, 1}},
      {"BOOL", {at::kBool, 1}}};
  auto it = table.find(s);
  if (it == table.end()) return false;
  out = it->second;
  return true;
}

// Parses one file's header into `out`; every tensor's byte range is checked against the file.
void parse_header(const MappedFile& f, std::size_t file_index,
                  std::map<std::string, TensorInfo>& out) {
  GLYPH_CHECK(f.size() >= 8, ModelLoadError, "{}: truncated safetensors file ({} bytes)", f.path(),
              f.size());
  std::uint64_t n = 0;
  std::memcpy(&n, f.data(), 8);  // little-endian on every platform glyphcpp builds for
  GLYPH_CHECK(n <= f.size() - 8 && n < (std::uint64_t{1} << 31), ModelLoadError,
              "{}: safetensors header length {} exceeds the file size {} (truncated or not a "
              "safetensors file)",
              f.path(), n, f.size());
  json h;
  try {
    h = json::parse(f.data() + 8, f.data() + 8 + n);
  } catch (const json::parse_error& e) {
    GLYPH_THROW(ModelLoadError, "{}: bad safetensors header JSON ({})", f.path(), e.what());
  }
  GLYPH_CHECK(h.is_object(), ModelLoadError, "{}: safetensors header is not an object", f.path());
  const std::uint64_t base = 8 + n;
  for (auto& [name, v] : h.items()) {
    if (name == "__metadata__") continue;
    TensorInfo ti;
    try {
      ti.dtype = v.at("dtype").get<std::string>();
      ti.shape = v.at("shape").get<std::vector<std::int64_t>>();
      auto off = v.at("data_offsets").get<std::vector<std::uint64_t>>();
      GLYPH_CHECK(off.size() == 2, ModelLoadError, "{}: tensor {} has bad data_offsets", f.path(),
                  name);
      ti.begin = base + off[0];
      ti.end = base + off[1];
    } catch (const json::exception& e) {
      GLYPH_THROW(ModelLoadError, "{}: tensor {} has a bad header entry ({})", f.path(), name,
                  e.what());
    }
    DtypeInfo d{};
    GLYPH_CHECK(dtype_of(ti.dtype, d), ModelLoadError, "{}: tensor {} has unsupported dtype {}",
                f.path(), name, ti.dtype);
    std::uint64_t numel = 1;
    for (auto s : ti.shape) {
      GLYPH_CHECK(s >= 0, ModelLoadError, "{}: tensor {} has a negative dimension", f.path(), name);
      numel *= static_cast<std::uint64_t>(s);
    }
    GLYPH_CHECK(ti.end >= ti.begin && ti.end - ti.begin == numel * d.bytes, ModelLoadError,
                "{}: tensor {} holds {} bytes but dtype {} and shape need {}", f.path(), name,
                ti.end - ti.begin, ti.dtype, numel * d.bytes);
    GLYPH_CHECK(ti.end <= f.size(), ModelLoadError,
                "{}: tensor {} ends at byte {} but the file has {} bytes (truncated file)", f.path(),
                name, ti.end, f.size());
    ti.file = file_index;
    GLYPH_CHECK(out.count(name) == 0, ModelLoadError, "{}: tensor {} appears in two files",
                f.path(), name);
    out.emplace(name, std::move(ti));
  }
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  SafetensorsCheckpoint ck;
  fs::path p(path);
  fs::path index;
  std::vector<fs::path> files;
  if (fs::is_directory(p)) {
    if (fs::exists(p / "model.safetensors.index.json")) {
      index = p / "model.safetensors.index.json";
    } else if (fs::exists(p / "model.safetensors")) {
      files.push_back(p / "model.safetensors");
    } else {
      GLYPH_THROW(ModelLoadError,
                  "{}: no model.safetensors or model.safetensors.index.json (only safetensors "
                  "checkpoints are supported)",
                  p.string());
    }
  } else if (p.extension() == ".json") {
    index = p;
  } else {
    files.push_back(p);
  }
  std::map<std::string, std::string> expected_file;  // from the index: name -> shard
  if (!index.empty()) {
    std::string text;
    try {
      text = read_file(index.string(), "checkpoint index");
    } catch (const IoError& e) {
      throw ModelLoadError(e.what());
    }
    json j;
    try {
      j = json::parse(text);
    } catch (const json::parse_error& e) {
      GLYPH_THROW(ModelLoadError, "{}: not valid JSON ({})", index.string(), e.what());
    }
    GLYPH_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), ModelLoadError,
                "{}: missing object weight_map", index.string());
    std::set<std::string> shards;
    for (auto& [name, shard] : j["weight_map"].items()) {
      GLYPH_CHECK(shard.is_string(), ModelLoadError, "{}: weight_map[{}] is not a file name",
                  index.string(), name);
      expected_file[name] = shard.get<std::string>();
      shards.insert(shard.get<std::string>());
    }
    for (const auto& s : shards) files.push_back(index.parent_path() / s);
  }
  for (const auto& f : files) {
    GLYPH_CHECK(fs::exists(f), ModelLoadError, "weights file {} is missing", f.string());
    ck.paths_.push_back(f.string());
    ck.files_.push_back(std::make_shared<MappedFile>(f.string()));
    parse_header(*ck.files_.back(), ck.files_.size() - 1, ck.tensors_);
  }
  for (const auto& [name, shard] : expected_file) {
    auto it = ck.tensors_.find(name);
    GLYPH_CHECK(it != ck.tensors_.end(), ModelLoadError,
                "{}: tensor {} is listed in {} but that file does not hold it", index.string(),
                name, shard);
    GLYPH_CHECK(fs::path(ck.paths_[it->second.file]).filename() == shard, ModelLoadError,
                "{}: tensor {} is listed in {} but found in {}", index.string(), name, shard,
                ck.paths_[it->second.file]);
  }
  return ck;
}

const TensorInfo& SafetensorsCheckpoint::info(const std::string& name) const {
  auto it = tensors_.find(name);
  GLYPH_CHECK(it != tensors_.end(), ModelLoadError, "checkpoint has no tensor {}", name);
  return it->second;
}

at::Tensor SafetensorsCheckpoint::tensor(const std::string& name, at::ScalarType dtype,
                                         at::Device device, bool copy) const {
  const TensorInfo& ti = info(name);
  DtypeInfo d{};
  dtype_of(ti.dtype, d);
  const std::shared_ptr<MappedFile>& f = files_[ti.file];
  void* ptr = const_cast<std::uint8_t*>(f->data() + ti.begin);
  const bool aligned = reinterpret_cast<std::uintptr_t>(ptr) % d.bytes == 0;
  if (!copy && aligned && device.is_cpu() && d.type == dtype) {
    // Zero-copy: the tensor holds the mapping alive through its deleter.
    std::shared_ptr<MappedFile> keep = f;
    return at::from_blob(
        ptr, ti.shape, [keep](void*) mutable { keep.reset(); },
        at::TensorOptions().dtype(d.type));
  }
  at::Tensor view;
  if (aligned) {
    view = at::from_blob(ptr, ti.shape, at::TensorOptions().dtype(d.type));
  } else {  // copy the bytes to aligned memory before any typed read
    at::Tensor bytes = at::empty({static_cast<std::int64_t>(ti.end - ti.begin)}, at::kByte);
    std::memcpy(bytes.data_ptr(), ptr, ti.end - ti.begin);
    view = bytes.view(d.type).view(ti.shape);
  }
  return view.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace glyph::vlm
