#include "runtime/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <string_view>

#include "runtime/generation.h"
#include "util/error.h"

namespace dragon {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The layer a tensor belongs to ("blk.12.attn_q.weight", "model.layers.12.mlp..."), or -1.
int64_t layer_of(std::string_view name) {
  for (std::string_view prefix : {"blk.", "layers."}) {
    const size_t at = name.find(prefix);
    if (at == std::string_view::npos) continue;
    int64_t layer = 0;
    size_t i = at + prefix.size();
    if (i >= name.size() || name[i] < '0' || name[i] > '9') continue;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) layer = layer * 10 + (name[i] - '0');
    return layer;
  }
  return -1;
}

bool is_routed_expert(std::string_view name) {
  return name.find("_exps.") != std::string_view::npos || name.find(".experts.") != std::string_view::npos;
}

bool is_embedding(std::string_view name) {
  return name == "token_embd.weight" || name.ends_with("embed_tokens.weight");
}

bool is_output_head(std::string_view name) { return name == "output.weight" || name == "lm_head.weight"; }

// Sums 64-bit words with eight independent accumulators: enough loads in flight that memory,
// not the adds, is the limit. The result is returned so the loads cannot be optimised away.
uint64_t sum_words(const uint64_t* words, size_t n) {
  uint64_t acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += words[i + j];
  for (; i < n; ++i) acc[0] += words[i];
  return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

}  // namespace

WeightTraffic weight_traffic(const OpenedModel& model) {
  const ModelConfig& c = model.config;
  bool has_output_head = false;
  for (const TensorView& t : model.tensors) has_output_head |= is_output_head(t.name);
  WeightTraffic traffic;
  double per_token = 0;
  for (const TensorView& t : model.tensors) {
    traffic.total_bytes += t.nbytes;
    const int64_t layer = layer_of(t.name);
    if (layer >= c.n_layers) continue;  // MTP layers
    if (is_embedding(t.name) && has_output_head) {
      per_token += t.shape.empty() ? 0.0 : static_cast<double>(t.nbytes) / t.shape.front();
    } else if (is_routed_expert(t.name) && c.n_experts > 0) {
      traffic.expert_bytes += t.nbytes;
      per_token += static_cast<double>(t.nbytes) * c.n_experts_used / c.n_experts;
    } else {
      per_token += static_cast<double>(t.nbytes);
    }
  }
  traffic.per_token_bytes = static_cast<uint64_t>(per_token);
  return traffic;
}

double measure_read_bandwidth(ThreadPool& pool, uint64_t bytes, int reps) {
  const size_t words = std::max<uint64_t>(bytes / 8, 1024);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);
  // Written first (in parallel, so each thread's pages are local to it): untouched pages all
  // map the shared zero page and would read from cache.
  pool.parallel_for(static_cast<int64_t>(words), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buffer[i] = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  });
  double best = 0;
  std::vector<uint64_t> sink(pool.size());
  for (int r = 0; r < std::max(reps, 1); ++r) {
    const auto start = Clock::now();
    pool.run_on_all([&](int thread, int n_threads) {
      const size_t begin = words * thread / n_threads, end = words * (thread + 1) / n_threads;
      sink[thread] += sum_words(buffer.get() + begin, end - begin);
    });
    best = std::max(best, static_cast<double>(words * 8) / seconds_since(start));
  }
  volatile uint64_t keep = 0;
  for (uint64_t s : sink) keep = keep + s;
  return best;
}

BenchRuns run_bench(Model& model, const BenchOptions& o, ThreadPool& pool) {
  const ModelConfig& c = model.config();
  if (o.n_prompt < 0 || o.n_gen < 0) fail("bench: negative token counts (-p {}, -n {})", o.n_prompt, o.n_gen);
  if (o.n_prompt == 0 && o.n_gen == 0) fail("bench: nothing to measure (-p 0 and -n 0)");
  if (o.reps < 1) fail("bench: -r {}: at least one repetition", o.reps);
  if (o.sequences < 1 || o.sequences > 256) fail("bench: --parallel {}: 1 to 256 sequences", o.sequences);
  const int n_seq = o.sequences;
  const int64_t n_ctx = std::max<int64_t>(o.n_prompt + o.n_gen, 8);
  if (o.n_prompt + o.n_gen > c.context_length)
    fail("bench: -p {} + -n {} = {} positions, more than the model's context of {}", o.n_prompt, o.n_gen,
         o.n_prompt + o.n_gen, c.context_length);
  // Prompt ids as llama_oracle's bench makes them, so both engines see the same tokens.
  auto prompt_token = [&](int64_t i) { return static_cast<int32_t>((i * 7 + 1) % c.vocab_size); };

  KVCache cache(c, n_ctx, n_seq, o.kv_type);
  {
    Batch warm;
    const int64_t n = std::min<int64_t>(std::max<int64_t>(o.n_prompt, 1), 8);
    for (int64_t i = 0; i < n; ++i) warm.add(prompt_token(i), i, 0, i + 1 == n);
    cache.begin_batch(warm);
    model.forward(warm, cache, pool);
  }

  BenchRuns runs;
  std::vector<int32_t> next(static_cast<size_t>(n_seq));
  for (int r = 0; r < o.reps; ++r) {
    for (int s = 0; s < n_seq; ++s) cache.clear(s);
    // With no prompt, generation starts from token 1 at position 0.
    std::fill(next.begin(), next.end(), 1);
    if (o.n_prompt > 0) {
      Batch batch;
      for (int s = 0; s < n_seq; ++s)
        for (int64_t i = 0; i < o.n_prompt; ++i) batch.add(prompt_token(i), i, s, i + 1 == o.n_prompt);
      const auto start = Clock::now();
      cache.begin_batch(batch);
      const Activations logits = model.forward(batch, cache, pool);
      runs.pp_tokens_per_s.push_back(static_cast<double>(o.n_prompt * n_seq) / seconds_since(start));
      for (int s = 0; s < n_seq; ++s) next[s] = argmax(logits.row(s), c.vocab_size);
    }
    if (o.n_gen > 0) {
      const auto start = Clock::now();
      for (int64_t i = 0; i < o.n_gen; ++i) {
        Batch step;
        for (int s = 0; s < n_seq; ++s) step.add(next[s], o.n_prompt + i, s, true);
        cache.begin_batch(step);
        const Activations logits = model.forward(step, cache, pool);
        for (int s = 0; s < n_seq; ++s) next[s] = argmax(logits.row(s), c.vocab_size);
      }
      runs.tg_tokens_per_s.push_back(static_cast<double>(o.n_gen * n_seq) / seconds_since(start));
    }
  }
  return runs;
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double stdev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace dragon
