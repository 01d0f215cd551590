// GET /metrics in Prometheus' text format (version 0.0.4): the server's own counters (HTTP
// requests by route and status) and latency histograms it measures from the token callbacks
// (time to first token, inter-token latency), plus the engine's gauges and counters from
// Engine::stats() (requests running / waiting, tokens, mean batch size, KV usage, prefix-cache
// hits), and — when the machine's cost is configured (serve --usd-per-hour, or --watts with
// --usd-per-kwh) — what serving has cost so far and what a million tokens cost at the current
// load, the live counterpart of `dragon cost`.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/engine.h"

namespace dragon::server {

// A cumulative histogram (Prometheus semantics: bucket counts are "<= le").
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  void render(std::string& out, const std::string& name, const std::string& help) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative (summed when rendered)
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void count_http(const std::string& route, int status);
  void observe_ttft(double seconds);
  void observe_inter_token(double seconds);
  void count_finish(const char* reason);
  // The machine's running cost in $/hour, accrued from the server's start (0: not configured).
  void set_machine_cost(double usd_per_hour) { usd_per_hour_ = usd_per_hour; }
  std::string render(const EngineStats& stats) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> http_;
  std::map<std::string, uint64_t> finishes_;
  Histogram ttft_, inter_token_;
  double usd_per_hour_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace dragon::server
