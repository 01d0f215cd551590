// matmul micro-benchmark: weight GB/s per format and ISA for a decode-shaped product (1 token x
// 1024 in x 3072 out) and a prefill-shaped one (512 tokens). Decode is memory-bound: compare its
// GB/s with the machine's read bandwidth (~35 GB/s per thread here). Prefill is compute-bound:
// read its tokens/s and GFLOP/s. "Q8_0-repacked" is Q8_0 through the prompt GEMM over the
// repacked copy (kernels/gemm.h) that model loading makes; "Q8_0" is the row-dot path.
//   build/matmul_bench [--benchmark_filter=Q8_0] ; DRAGON_BENCH_THREADS=N (default 2)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/repack.h"
#include "tensor/quantize.h"

namespace dragon {
namespace {

constexpr int64_t kIn = 1024, kOut = 3072;

int bench_threads() {
  const char* env = std::getenv("DRAGON_BENCH_THREADS");
  return env ? std::max(1, std::atoi(env)) : 2;
}

void run_matmul(benchmark::State& state, DType type, Isa isa, int64_t tokens, bool repacked, int64_t n_out = kOut) {
  if (isa > detected_isa()) {
    state.SkipWithError("ISA not supported by this CPU");
    return;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(kIn * n_out));
  for (float& v : w) v = dist(rng);
  const std::vector<uint8_t> bytes = quantize_tensor(type, w.data(), n_out, kIn);
  w = {};
  const TensorView view{"w", type, {n_out, kIn}, bytes.data(), bytes.size()};
  Activations x(tokens, kIn), y;
  for (float& v : x.data) v = dist(rng) * 20.0f;
  ThreadPool pool(bench_threads());
  std::unique_ptr<RepackedQ8_0> packed;
  if (repacked) {
    packed = std::make_unique<RepackedQ8_0>(view);
    register_repacked(view, packed.get());
  }
  set_isa_override(isa);
  for (auto _ : state) {
    matmul(x, view, y, pool);
    benchmark::DoNotOptimize(y.data.data());
  }
  set_isa_override(std::nullopt);
  if (packed) unregister_repacked(view, packed.get());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * tokens * kIn * n_out * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  // Decode from memory rather than cache: 1024 x 131072 Q8_0 = 143 MB, about the size of
  // qwen3-0.6b's output head; compare the GB/s (CPU time) with `dragon bench --membw`.
  for (bool repacked : {true, false}) {
    const std::string name = std::string("decode-dram/Q8_0") + (repacked ? "-repacked" : "") + "/avx512";
    benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) {
      run_matmul(s, DType::Q8_0, Isa::Avx512, 1, repacked, 131072);
    })->Unit(benchmark::kMillisecond);
  }
  for (bool repacked : {true, false})
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS, DType::F16,
                     DType::BF16, DType::F32, DType::Q5_0})
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512})
      for (int64_t tokens : {1, 512}) {
        if (repacked && type != DType::Q8_0) continue;
        const std::string name = std::string(tokens == 1 ? "decode/" : "prefill512/") + std::string(dtype_name(type)) +
                                 (repacked ? "-repacked" : "") + "/" + std::string(isa_name(isa));
        auto* b = benchmark::RegisterBenchmark(name.c_str(),
                                               [=](benchmark::State& s) { run_matmul(s, type, isa, tokens, repacked); });
        b->Unit(tokens == 1 ? benchmark::kMicrosecond : benchmark::kMillisecond)->UseRealTime();
        if (tokens > 1) b->Iterations(isa == Isa::Scalar ? 1 : 3);
      }
}

}  // namespace
}  // namespace dragon

int main(int argc, char** argv) {
  dragon::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
