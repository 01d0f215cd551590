#include "kernels/repack.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <tuple>

#include "tensor/block_layout.h"
#include "util/error.h"

namespace dragon {

void RepackedQ8_0::AlignedFree::operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }

RepackedQ8_0::RepackedQ8_0(const TensorView& w) {
  using namespace layout;
  if (w.dtype != DType::Q8_0) fail("tensor {}: repacking expects Q8_0, got {}", w.name, dtype_name(w.dtype));
  if (w.shape.size() != 2) fail("tensor {}: expected a 2-D weight, got shape {}", w.name, shape_string(w.shape));
  rows_ = w.shape[0];
  cols_ = w.shape[1];
  if (rows_ <= 0 || cols_ <= 0 || cols_ % kQK != 0)
    fail("tensor {}: shape {} is not a Q8_0 matrix", w.name, shape_string(w.shape));
  blocks_ = cols_ / kQK;
  groups_ = (rows_ + kRows - 1) / kRows;
  const uint64_t row_bytes = static_cast<uint64_t>(blocks_) * q8_0::bytes;
  if (row_bytes * static_cast<uint64_t>(rows_) != w.nbytes)
    fail("tensor {}: {} bytes do not hold Q8_0 {}", w.name, w.nbytes, shape_string(w.shape));

  data_.reset(static_cast<uint8_t*>(::operator new[](nbytes(), std::align_val_t{64})));
  for (int64_t g = 0; g < groups_; ++g) {
    uint8_t* group_data = data_.get() + static_cast<size_t>(g) * group_bytes();
    if (blocks_ % 2 != 0)  // the odd last block of the last pair: scale 0, never read past cols
      std::memset(group_data + group_bytes() - kPairBytes, 0, kPairBytes);
    for (int64_t b = 0; b < blocks_; ++b) {
      uint8_t* scales_out = const_cast<uint8_t*>(scales(group_data, b));
      uint8_t* quants_out = const_cast<uint8_t*>(quants(group_data, b));
      for (int r = 0; r < kRows; ++r) {
        const int64_t row = g * kRows + r;
        if (row >= rows_) {  // padding rows: scale 0 and w = 0 (byte 128)
          std::memset(scales_out + 2 * r, 0, 2);
          for (int k = 0; k < 8; ++k) std::memset(quants_out + 64 * k + 4 * r, 0x80, 4);
          continue;
        }
        const uint8_t* block = w.data + static_cast<uint64_t>(row) * row_bytes + static_cast<uint64_t>(b) * q8_0::bytes;
        std::memcpy(scales_out + 2 * r, block + q8_0::d, 2);
        for (int k = 0; k < 8; ++k) {
          uint32_t four;
          std::memcpy(&four, block + q8_0::qs + 4 * k, 4);
          four ^= 0x80808080u;
          std::memcpy(quants_out + 64 * k + 4 * r, &four, 4);
        }
      }
    }
  }
}

namespace {

// Keyed by everything that identifies a view's bytes and meaning: an MoE expert slice shares
// its first byte with the 3-D tensor it comes from, so the pointer alone is not enough.
using Key = std::tuple<const uint8_t*, uint64_t, int64_t, int64_t>;

Key key_of(const TensorView& w) {
  if (w.shape.size() != 2) return {nullptr, 0, 0, 0};
  return {w.data, w.nbytes, w.shape[0], w.shape[1]};
}

struct Registry {
  std::shared_mutex mutex;
  std::map<Key, const RepackedQ8_0*> entries;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_repacked(const TensorView& original, const RepackedQ8_0* packed) {
  if (original.shape.size() != 2 || original.dtype != DType::Q8_0 || packed->rows() != original.shape[0] ||
      packed->cols() != original.shape[1])
    fail("tensor {}: the repacked copy does not match it", original.name);
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  r.entries[key_of(original)] = packed;
}

void unregister_repacked(const TensorView& original, const RepackedQ8_0* packed) {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  auto it = r.entries.find(key_of(original));
  if (it != r.entries.end() && it->second == packed) r.entries.erase(it);
}

const RepackedQ8_0* find_repacked(const TensorView& w) {
  if (w.dtype != DType::Q8_0 || w.shape.size() != 2) return nullptr;
  Registry& r = registry();
  std::shared_lock lock(r.mutex);
  auto it = r.entries.find(key_of(w));
  return it == r.entries.end() ? nullptr : it->second;
}

bool repack_enabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("DRAGON_REPACK");
    return !(env && std::strcmp(env, "0") == 0);
  }();
  return enabled;
}

}  // namespace dragon
