// A random F32 GGUF of one architecture for the forward tests: the arch's own metadata and
// tensor plans for `config`, norm weights and 1-D tensors 1 + N(0, 0.1), matrices N(0, 1/fan_in),
// tensor i drawn from its own generator seeded i + 1 (so a tensor's values do not depend on the
// others', e.g. on a config key no tensor's shape reads).
#pragma once

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "models/arch.h"
#include "util/error.h"

namespace dragon {

inline std::string write_random_gguf(const ModelConfig& config, const std::string& gguf_arch, const std::string& path) {
  const ArchSpec* spec = find_arch_by_gguf(gguf_arch);
  if (!spec) fail("write_random_gguf: no architecture {}", gguf_arch);
  GGUFWriter w;
  w.set("general.architecture", GGUFValue::str(gguf_arch));
  spec->write_gguf_metadata(config, w);
  const auto plans = spec->gguf_tensors(config);
  for (const auto& p : plans) w.add_tensor(p.name, DType::F32, p.shape);
  w.write(path, [&](size_t i) {
    const auto& p = plans[i];
    int64_t n = 1;
    for (int64_t d : p.shape) n *= d;
    std::mt19937 rng(static_cast<uint32_t>(i + 1));
    const bool vector = p.shape.size() == 1;
    std::normal_distribution<float> dist(vector ? 1.0f : 0.0f, vector ? 0.1f : 1.0f / std::sqrt(float(p.shape.back())));
    std::vector<float> values(n);
    for (float& v : values) v = dist(rng);
    std::vector<uint8_t> bytes(n * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  });
  return path;
}

}  // namespace dragon
