// Which SIMD level the kernels run at, chosen at run time so one portable binary (no -march)
// uses AVX-512 VNNI where the CPU has it and still runs anywhere else.
//
// Levels, each including the ones below it:
//   scalar  — plain C++, the reference every SIMD kernel is tested against (and ARM64's path)
//   avx2    — AVX2 + FMA + F16C (Haswell and later): int8 dots through maddubs / madd
//   avx512  — AVX-512 F/BW/VL/DQ + VNNI (Ice Lake, Zen 4 and later): vpdpbusd / vpdpwssd
//             (a CPU with AVX-512 but no VNNI runs the avx2 kernels)
// DRAGON_ISA=scalar|avx2|avx512 in the environment caps the level (tests and benchmarks force
// a path that way); a level the CPU lacks is never used, whatever is asked.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace dragon {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

std::string_view isa_name(Isa isa);
std::optional<Isa> isa_from_name(std::string_view name);

// The best level this CPU supports.
Isa detected_isa();

// The level the kernels use now: the DRAGON_ISA cap (read once) or a test's override, never
// above detected_isa().
Isa active_isa();

// Every level this CPU can run, lowest first (scalar is always there).
std::vector<Isa> available_isas();

// Forces the level for the whole process until reset with std::nullopt (tests, benchmarks).
// Throws dragon::Error if the CPU cannot run it.
void set_isa_override(std::optional<Isa> isa);

}  // namespace dragon
