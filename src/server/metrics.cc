#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace dragon::server {

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      inter_token_({0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5}) {}

void Metrics::count_http(const std::string& route, int status) {
  std::lock_guard lock(mutex_);
  ++http_[{route, status}];
}

void Metrics::observe_ttft(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.observe(seconds);
}

void Metrics::observe_inter_token(double seconds) {
  std::lock_guard lock(mutex_);
  inter_token_.observe(seconds);
}

void Metrics::count_finish(const char* reason) {
  std::lock_guard lock(mutex_);
  ++finishes_[reason];
}

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

}  // namespace

std::string Metrics::render(const EngineStats& s) const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    out += "# HELP dragon_http_requests_total HTTP requests by route and status.\n# TYPE dragon_http_requests_total counter\n";
    for (const auto& [key, n] : http_)
      out += fmt::format("dragon_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
    out += "# HELP dragon_request_finish_total Generation requests by finish reason.\n# TYPE dragon_request_finish_total counter\n";
    for (const auto& [reason, n] : finishes_) out += fmt::format("dragon_request_finish_total{{reason=\"{}\"}} {}\n", reason, n);
    ttft_.render(out, "dragon_time_to_first_token_seconds", "Time from submission to the first generated token.");
    inter_token_.render(out, "dragon_inter_token_latency_seconds", "Time between consecutive tokens of one request.");
  }
  metric(out, "dragon_requests_total", "counter", "Generation requests the engine accepted.", s.requests_total);
  metric(out, "dragon_requests_running", "gauge", "Requests in a sequence slot.", s.requests_running);
  metric(out, "dragon_requests_waiting", "gauge", "Requests queued for a slot.", s.requests_waiting);
  metric(out, "dragon_prompt_tokens_total", "counter", "Prompt tokens submitted.", s.prompt_tokens_total);
  metric(out, "dragon_generated_tokens_total", "counter", "Tokens generated.", s.generated_tokens_total);
  metric(out, "dragon_prefix_cache_hit_tokens_total", "counter", "Prompt tokens reused from the prefix cache.",
         s.cached_tokens_total);
  metric(out, "dragon_prefix_cache_hit_ratio", "gauge", "Share of prompt tokens reused from the prefix cache.",
         s.prompt_tokens_total ? double(s.cached_tokens_total) / double(s.prompt_tokens_total) : 0.0);
  metric(out, "dragon_engine_steps_total", "counter", "Forward steps.", s.steps_total);
  metric(out, "dragon_batch_size_mean", "gauge", "Mean sequences per forward step.", s.mean_batch_size);
  metric(out, "dragon_kv_positions_used", "gauge", "KV cache positions in use.", double(s.kv_positions_used));
  metric(out, "dragon_kv_positions_total", "gauge", "KV cache positions.", double(s.kv_positions_total));
  metric(out, "dragon_kv_usage_ratio", "gauge", "Share of the KV cache in use.",
         s.kv_positions_total ? double(s.kv_positions_used) / double(s.kv_positions_total) : 0.0);
  metric(out, "dragon_kv_blocks_used", "gauge", "KV cache blocks held by running requests.", double(s.kv_blocks_used));
  metric(out, "dragon_kv_blocks_cached", "gauge", "KV cache blocks held only by the prefix cache (evictable).",
         double(s.kv_blocks_cached));
  metric(out, "dragon_kv_blocks_total", "gauge", "KV cache blocks.", double(s.kv_blocks_total));
  metric(out, "dragon_kv_block_size", "gauge", "Positions per KV cache block.", double(s.kv_block_size));
  metric(out, "dragon_preemptions_total", "counter", "Requests preempted for lack of KV cache blocks.",
         s.preemptions_total);
  metric(out, "dragon_prefix_cache_evictions_total", "counter", "Cached KV blocks evicted to make room.",
         s.prefix_cache_evictions_total);
  if (usd_per_hour_ > 0) {
    // The machine costs the same whether it serves or idles, so a million tokens cost the time
    // accrued so far over the tokens served so far: it falls as the load rises.
    const double hours = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() / 3600;
    const double usd = usd_per_hour_ * hours;
    const double all_tokens = double(s.prompt_tokens_total + s.generated_tokens_total);
    metric(out, "dragon_machine_usd_per_hour", "gauge", "The machine's configured running cost.", usd_per_hour_);
    metric(out, "dragon_machine_cost_usd_total", "counter", "What the machine has cost since the server started.", usd);
    metric(out, "dragon_cost_usd_per_million_tokens", "gauge",
           "Machine cost so far per million tokens served (prompt + generated).", all_tokens > 0 ? usd / all_tokens * 1e6 : 0.0);
    metric(out, "dragon_cost_usd_per_million_generated_tokens", "gauge",
           "Machine cost so far per million generated tokens.",
           s.generated_tokens_total ? usd / double(s.generated_tokens_total) * 1e6 : 0.0);
  }
  return out;
}

}  // namespace dragon::server
