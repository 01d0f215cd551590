// What `dragon bench` measures, as a library: prompt and generation speed of a model through the
// same Model::forward / KVCache path every request takes, the bytes of weights one generated
// token has to read, and the machine's read bandwidth (the roofline of decode).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"
#include "models/model_file.h"
#include "runtime/model.h"

namespace dragon {

// Bytes of weights one decode step reads: every tensor of the main stack once, except
//   - the token embedding, of which a step reads one row (unless it doubles as the output head);
//   - routed-expert tensors (GGUF *_exps, HF ...experts.N...), of which only n_experts_used of
//     n_experts are active;
//   - MTP layers past the main stack (not run).
struct WeightTraffic {
  uint64_t total_bytes = 0;     // the whole file's tensors
  uint64_t per_token_bytes = 0; // read per generated token
  uint64_t expert_bytes = 0;    // all routed-expert tensors (before the active fraction)
};
WeightTraffic weight_traffic(const OpenedModel& model);

// Streams a buffer of `bytes` (much larger than the caches) with every thread of `pool` reading
// its own slice; the best of `reps` passes, in bytes per second.
double measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, int reps);

struct BenchOptions {
  int64_t n_prompt = 512;  // one batch of this many tokens (0 = skip)
  int64_t n_gen = 128;     // single-token steps after the prompt (0 = skip)
  int reps = 3;
  CacheType kv_type = CacheType::F16;
  // Independent sequences decoded together, as a server batches its streams: each gets the
  // prompt (all of them in one batch) and every generation step carries one token per sequence,
  // so the weights are read once per step for all of them.
  int sequences = 1;
};

struct BenchRuns {
  // One entry per repetition; with several sequences these are totals over all of them.
  std::vector<double> pp_tokens_per_s, tg_tokens_per_s;
};

// Runs `reps` repetitions after one untimed warm-up (pages the weights in). Each repetition:
// a fresh cache, the prompt in one batch (timed), then n_gen greedy steps (timed), as
// llama_oracle --bench-pp / --bench-tg does.
BenchRuns run_bench(Model& model, const BenchOptions& options, ThreadPool& pool);

double mean(const std::vector<double>& v);
double stdev(const std::vector<double>& v);  // sample standard deviation (0 for one value)

}  // namespace dragon
