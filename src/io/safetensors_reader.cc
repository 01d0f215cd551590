// Reading and validating a safetensors file. Everything in it is untrusted: the header length,
// the JSON, every dtype, shape and offset is checked before a TensorView points into the map.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/utf8.h"

namespace dragon {

namespace {

using nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";

// nlohmann::json keeps the last of two equal keys without a word; a safetensors header with two
// entries of the same name is ambiguous (which bytes are the tensor?), so the parse callback
// rejects any repeated key in any object.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& path) : path_(path) {}

  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        objects_.push_back({depth == 0 ? std::string() : last_key_, {}});
        break;
      case json::parse_event_t::object_end:
        objects_.pop_back();
        break;
      case json::parse_event_t::key: {
        last_key_ = parsed.get<std::string>();
        Object& object = objects_.back();
        if (!object.keys.insert(last_key_).second) {
          if (objects_.size() == 1)
            fail("{}: tensor '{}': duplicate name in the header", path_, escape_for_message(last_key_));
          fail("{}: tensor '{}': duplicate key '{}' in its header entry", path_,
               escape_for_message(object.owner), escape_for_message(last_key_));
        }
        break;
      }
      default:
        break;
    }
    return true;
  }

 private:
  struct Object {
    std::string owner;  // the key whose value this object is ("" for the top level)
    std::set<std::string> keys;
  };
  const std::string& path_;
  std::vector<Object> objects_;
  std::string last_key_;
};

json parse_header_json(const std::string& path, std::string_view text) {
  if (size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    const size_t from = bad < 32 ? 0 : bad - 32;
    fail("{}: header is not valid UTF-8 at header byte {} (file offset {}), near \"{}\"", path, bad, 8 + bad,
         escape_for_message(text.substr(from, 64), 200));
  }
  try {
    return json::parse(text.begin(), text.end(), DuplicateKeyCheck(path));
  } catch (const json::parse_error& e) {
    fail("{}: header is not valid JSON at header byte {} (file offset {}): {}", path, e.byte, 8 + e.byte, e.what());
  } catch (const json::exception& e) {  // out_of_range: a number beyond double's range (1e999)
    fail("{}: header is not valid JSON: {}", path, e.what());
  }
}

// A JSON value that must be a non-negative integer fitting int64.
std::optional<int64_t> as_size(const json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  const uint64_t v = value.get<uint64_t>();
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(v);
}

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// `data_start`: file offset of the data section, which runs to the end of the file.
Entry parse_entry(const std::string& path, const std::string& name, const json& value, uint64_t data_start,
                  uint64_t file_size) {
  const uint64_t data_size = file_size - data_start;
  const std::string where = fmt::format("{}: tensor '{}'", path, escape_for_message(name, 200));
  if (!value.is_object()) fail("{}: header entry is not an object", where);
  const auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string()) fail("{}: missing or non-string \"dtype\"", where);
  const std::string dtype_string = dtype_it->get<std::string>();
  const std::optional<DType> dtype = dtype_from_safetensors(dtype_string);
  if (!dtype) fail("{}: unknown dtype '{}'", where, escape_for_message(dtype_string));

  Entry entry{name, *dtype, {}, 0, 0};
  const auto shape_it = value.find("shape");
  if (shape_it == value.end() || !shape_it->is_array()) fail("{}: missing or non-array \"shape\"", where);
  for (const json& dim : *shape_it) {
    const std::optional<int64_t> d = as_size(dim);
    if (!d) fail("{}: shape {} holds something other than a non-negative int64", where, shape_it->dump());
    entry.shape.push_back(*d);
  }

  const auto offsets_it = value.find("data_offsets");
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned())
    fail("{}: \"data_offsets\" must be [begin, end] of non-negative integers", where);
  entry.begin = (*offsets_it)[0].get<uint64_t>();
  entry.end = (*offsets_it)[1].get<uint64_t>();
  if (entry.begin > entry.end) fail("{}: data_offsets [{}, {}] end before they begin", where, entry.begin, entry.end);
  if (entry.end > data_size)
    fail("{}: data_offsets [{}, {}] run past the end of the file (data section of {} bytes; file offset {} > file size {})",
         where, entry.begin, entry.end, data_size, data_start + entry.end, file_size);

  const int64_t numel = checked_numel(entry.shape, where);
  const uint64_t expected = with_context(where, [&] { return dtype_row_bytes(entry.dtype, numel); });
  if (entry.end - entry.begin != expected)
    fail("{}: data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}", where, entry.begin, entry.end,
         entry.end - entry.begin, shape_string(entry.shape), dtype_string, expected);
  return entry;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  if (!value.is_object()) fail("{}: \"__metadata__\" is not an object", path);
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string())
      fail("{}: \"__metadata__\" key '{}' is not a string (it is {})", path, escape_for_message(key), item.type_name());
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

}  // namespace

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile(MappedFile(path)));
  file->parse_header();
  return file;
}

void SafetensorsFile::parse_header() {
  const std::string& file_path = path();
  const uint64_t file_size = file_.size();
  if (file_size < 8) fail("{}: {} bytes is too short for the 8-byte header length", file_path, file_size);
  uint64_t header_len;
  std::memcpy(&header_len, file_.data(), 8);  // little-endian, as is every host dragon targets
  if (header_len > kSafetensorsMaxHeaderBytes)
    fail("{}: header length {} exceeds the {}-byte limit (corrupt file?)", file_path, header_len,
         kSafetensorsMaxHeaderBytes);
  if (header_len > file_size - 8)
    fail("{}: header length {} runs past the end of the file ({} bytes)", file_path, header_len, file_size);

  const std::string_view text(reinterpret_cast<const char*>(file_.data()) + 8, header_len);
  const json header = parse_header_json(file_path, text);
  if (!header.is_object()) fail("{}: header is a JSON {}, expected an object", file_path, header.type_name());

  const uint64_t data_start = 8 + header_len;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) metadata_ = parse_metadata(file_path, value);
    else entries.push_back(parse_entry(file_path, key, value, data_start, file_size));
  }

  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i].begin < entries[i - 1].end)
      fail("{}: tensor '{}': data_offsets [{}, {}] overlap those of tensor '{}' [{}, {}]", file_path,
           escape_for_message(entries[i].name), entries[i].begin, entries[i].end,
           escape_for_message(entries[i - 1].name), entries[i - 1].begin, entries[i - 1].end);

  tensors_.reserve(entries.size());
  for (Entry& entry : entries) {
    index_by_name_.emplace(entry.name, tensors_.size());
    TensorView view;
    view.name = std::move(entry.name);
    view.dtype = entry.dtype;
    view.shape = std::move(entry.shape);
    view.data = file_.data() + data_start + entry.begin;
    view.nbytes = entry.end - entry.begin;
    tensors_.push_back(std::move(view));
  }
}

const TensorView* SafetensorsFile::find_tensor(std::string_view name) const {
  const auto it = index_by_name_.find(name);
  return it == index_by_name_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace dragon
