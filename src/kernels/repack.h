// Q8_0 weights repacked at load into dragon's own interleaved layout for the prompt GEMM
// (kernels/gemm.h). A matrix-vector kernel reads one weight row at a time; the GEMM instead
// computes 16 weight rows x several tokens at once, and wants the 16 rows' bytes of one 32-column
// block side by side so that one 512-bit load feeds 16 int8 dot products (vpdpbusd) per token:
//
//   group g = rows 16g .. 16g+15 (the last group padded with zero rows), its blocks in pairs:
//   pair p = blocks 2p, 2p+1 of the group, 1088 bytes = 17 cache lines, 64-byte aligned:
//     [  0,  32) f16 scales d of rows 0..15 for block 2p
//     [ 32,  64) f16 scales d of rows 0..15 for block 2p+1 (zero past the last block)
//     [ 64, 576) block 2p quants:   chunk k (columns 4k..4k+3, k < 8) x row r x 4 bytes,
//                                   byte = w + 128 (unsigned, for vpdpbusd's u8 operand)
//     [576,1088) block 2p+1 quants, same order
//
// The same bytes per block as Q8_0 (34 x 16 = 32 + 512), so decode reads no more memory. The
// original (memory-mapped) tensor stays as it is for everything else (embedding lookups, the
// row-dot kernels, MoE slices): the repacked copy is found through a registry keyed by the
// original view, filled by runtime/weights.cc and read by matmul().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/tensor_view.h"

namespace dragon {

class RepackedQ8_0 {
 public:
  static constexpr int kRows = 16;                 // weight rows interleaved per group
  static constexpr size_t kScaleBytes = 32;        // 16 f16 scales of one block
  static constexpr size_t kQuantBytes = 16 * 32;   // 16 rows x 32 quants of one block
  static constexpr size_t kPairBytes = 2 * kScaleBytes + 2 * kQuantBytes;  // 1088

  // Throws dragon::Error naming the tensor unless it is a 2-D Q8_0 weight of consistent size.
  explicit RepackedQ8_0(const TensorView& w);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t blocks() const { return blocks_; }  // 32-column blocks per row
  int64_t groups() const { return groups_; }  // groups of kRows rows
  // Bytes of one group: all its block pairs, back to back.
  size_t group_bytes() const { return static_cast<size_t>((blocks_ + 1) / 2) * kPairBytes; }
  const uint8_t* group(int64_t g) const { return data_.get() + static_cast<size_t>(g) * group_bytes(); }
  size_t nbytes() const { return static_cast<size_t>(groups_) * group_bytes(); }

  // Where block b of a group starts: its 16 f16 scales, and its 512 quant bytes.
  static const uint8_t* scales(const uint8_t* group, int64_t b) {
    return group + static_cast<size_t>(b / 2) * kPairBytes + kScaleBytes * static_cast<size_t>(b % 2);
  }
  static const uint8_t* quants(const uint8_t* group, int64_t b) {
    return group + static_cast<size_t>(b / 2) * kPairBytes + 2 * kScaleBytes + kQuantBytes * static_cast<size_t>(b % 2);
  }

 private:
  struct AlignedFree {
    void operator()(uint8_t* p) const;
  };
  int64_t rows_ = 0, cols_ = 0, blocks_ = 0, groups_ = 0;
  std::unique_ptr<uint8_t[], AlignedFree> data_;
};

// The registry: matmul() looks a weight up by its view (data pointer, size and shape) and runs
// the GEMM on the repacked copy when there is one. Register / unregister at load and unload
// (runtime/weights.cc); lookups are safe from any thread.
void register_repacked(const TensorView& original, const RepackedQ8_0* packed);
// Removes the entry only if it is still `packed` (a later registration of the same view wins).
void unregister_repacked(const TensorView& original, const RepackedQ8_0* packed);
const RepackedQ8_0* find_repacked(const TensorView& w);

// Whether weights get repacked at load: yes unless DRAGON_REPACK=0 (A/B benchmarks, and a way
// out should the repacked path misbehave on some machine).
bool repack_enabled();

}  // namespace dragon
