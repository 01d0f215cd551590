#include "kernels/cpu_features.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "util/error.h"

namespace dragon {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

std::optional<Isa> isa_from_name(std::string_view name) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (name == isa_name(isa)) return isa;
  return std::nullopt;
}

Isa detected_isa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const Isa detected = [] {
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vnni");
    return avx512 ? Isa::Avx512 : avx2 ? Isa::Avx2 : Isa::Scalar;
  }();
  return detected;
#else
  return Isa::Scalar;
#endif
}

namespace {

// -1 = no override; else the Isa value.
std::atomic<int> g_override{-1};

Isa environment_cap() {
  static const Isa cap = [] {
    const char* env = std::getenv("DRAGON_ISA");
    if (!env || !*env) return detected_isa();
    const auto asked = isa_from_name(env);
    if (!asked) fail("DRAGON_ISA={}: expected scalar, avx2 or avx512", env);
    return std::min(*asked, detected_isa());
  }();
  return cap;
}

}  // namespace

Isa active_isa() {
  const int forced = g_override.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<Isa>(forced);
  return environment_cap();
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
    if (isa <= detected_isa()) out.push_back(isa);
  return out;
}

void set_isa_override(std::optional<Isa> isa) {
  if (isa && *isa > detected_isa()) fail("ISA {} is not supported by this CPU", isa_name(*isa));
  g_override.store(isa ? static_cast<int>(*isa) : -1, std::memory_order_relaxed);
}

}  // namespace dragon
