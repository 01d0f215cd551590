#include "synth/random.h"

#include <cmath>
#include <numbers>

#include "util/error.h"

namespace dragon {

namespace {

// SplitMix64's finalizer: a bijective 64-bit mix with full avalanche, so consecutive counters
// give independent-looking words.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// A tensor larger than this is refused: 2^32 f32 values are 16 GiB, more than any test needs.
constexpr int64_t kMaxSynthElements = int64_t{1} << 32;

}  // namespace

uint64_t tensor_stream_key(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the name, then mixed with the seed
  for (unsigned char ch : name) h = (h ^ ch) * 0x100000001b3ull;
  return mix64(h ^ mix64(seed + kGolden));
}

// Box–Muller on pairs: counter p gives one 64-bit word = two 32-bit uniforms in (0, 1), which
// give elements 2p (cosine branch) and 2p+1 (sine branch).
void fill_standard_normal(uint64_t key, int64_t first, int64_t n, float* out) {
  for (int64_t i = first; i < first + n;) {
    const uint64_t pair = static_cast<uint64_t>(i) >> 1;
    const uint64_t word = mix64(key + pair * kGolden);
    const double u1 = (static_cast<double>(word >> 32) + 0.5) * 0x1p-32;
    const double u2 = (static_cast<double>(word & 0xffffffffu) + 0.5) * 0x1p-32;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    if ((i & 1) == 0) {
      out[i - first] = static_cast<float>(radius * std::cos(angle));
      ++i;
      if (i >= first + n) break;
    }
    out[i - first] = static_cast<float>(radius * std::sin(angle));
    ++i;
  }
}

std::vector<float> synth_tensor_values(const HFTensorSpec& spec, uint64_t seed) {
  const int64_t n = checked_numel(spec.shape, "synthetic tensor " + spec.name);
  if (n > kMaxSynthElements)
    fail("synthetic tensor {} {}: {} elements is more than the {} a synthetic model may have", spec.name,
         shape_string(spec.shape), n, kMaxSynthElements);
  std::vector<float> values(static_cast<size_t>(n));
  fill_standard_normal(tensor_stream_key(seed, spec.name), 0, n, values.data());
  const float std = static_cast<float>(spec.std);
  const float offset = spec.init == Init::NormWeight ? 1.0f : 0.0f;
  for (float& v : values) v = offset + std * v;
  return values;
}

}  // namespace dragon
