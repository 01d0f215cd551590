// dragon bench --model M [-p 512] [-n 128] [-t N] [-r REPS] [--kv-type f16|f32] [--json]
// dragon bench --membw [-t N] [--json]
// dragon bench --model M (--draft-model M2 | --speculative mtp) [--draft-n K] [-p P] [-n N] [-r REPS] [--json]
//   greedy decoding plain and speculative (runtime/speculative.h): tokens/s of each, the speed-up,
//   the draft acceptance rate and tokens per verification pass, and whether the ids agree.
// Prompt tokens/s (one batch of -p tokens) and generation tokens/s (-n single-token steps
// through the KV cache), mean ± stdev over repetitions; the bytes of weights one generated token
// reads and the fraction of the machine's measured read bandwidth that generation reaches
// (decode is memory-bound: bandwidth / bytes per token is its roofline).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <memory>

#include "cli/commands.h"
#include "kernels/attention.h"
#include "runtime/bench.h"
#include "runtime/speculative.h"
#include "util/cpu_count.h"
#include "util/error.h"

namespace dragon::cli {

namespace {

struct BenchCliOptions {
  std::string model;
  int64_t n_prompt = 512, n_gen = 128;
  int threads = default_thread_count();  // one per physical core unless -t says otherwise
  int reps = 3;
  int sequences = 1;
  std::string kv_type = "f16";
  bool json = false;
  bool membw = false;
  bool skip_membw = false;
  int64_t membw_mib = 512;
  std::string draft_model, speculative;
  int64_t draft_n = 4;
};

constexpr double kGB = 1e9;

int run_membw(const BenchCliOptions& o) {
  ThreadPool pool(o.threads);
  const double bandwidth = measure_read_bandwidth(pool, static_cast<uint64_t>(o.membw_mib) << 20, 5);
  if (o.json) {
    fmt::print("{}\n", nlohmann::json{{"threads", o.threads},
                                      {"buffer_mib", o.membw_mib},
                                      {"membw_gb_per_s", bandwidth / kGB}}.dump());
  } else {
    fmt::print("read bandwidth: {:.1f} GB/s ({} threads, {} MiB buffer, best of 5 passes)\n", bandwidth / kGB,
               o.threads, o.membw_mib);
  }
  return 0;
}

int run_speculative_bench(const BenchCliOptions& o) {
  if (o.model.empty()) fail("bench: --model is required");
  if (o.sequences > 1) fail("bench: --parallel measures plain decoding; speculative decoding is benched one sequence at a time");
  auto model = build_model(open_model(o.model));
  std::unique_ptr<Model> draft;
  if (!o.draft_model.empty()) {
    draft = build_model(open_model(o.draft_model));
    check_draft_compatible(model->config(), draft->config(), nullptr, nullptr);
  }
  ThreadPool pool(o.threads);
  const CacheType type = o.kv_type == "f32" ? CacheType::F32 : CacheType::F16;
  auto make = [&](int64_t n_ctx) {
    return draft ? make_draft_model_drafter(*draft, n_ctx, type, pool) : make_mtp_drafter(*model, n_ctx, type, pool);
  };
  const SpeculativeBench b = bench_speculative(*model, make, o.n_prompt, o.n_gen, o.draft_n, o.reps, type, pool);
  const double plain = mean(b.plain_tokens_per_s), spec = mean(b.speculative_tokens_per_s);
  const std::string drafter = draft ? "draft model " + o.draft_model : "MTP layer";
  if (o.json) {
    fmt::print("{}\n", nlohmann::json{{"model", o.model},
                                      {"drafter", drafter},
                                      {"draft_n", o.draft_n},
                                      {"n_prompt", o.n_prompt},
                                      {"n_gen", o.n_gen},
                                      {"reps", o.reps},
                                      {"plain_tokens_per_s", plain},
                                      {"speculative_tokens_per_s", spec},
                                      {"speedup", plain > 0 ? spec / plain : 0.0},
                                      {"drafted", b.stats.drafted},
                                      {"accepted", b.stats.accepted},
                                      {"acceptance", b.stats.acceptance()},
                                      {"tokens_per_pass", b.stats.tokens_per_forward(o.n_gen)},
                                      {"identical", b.identical}}
                          .dump());
  } else {
    fmt::print("model: {}, drafter: {}, {} draft tokens per pass, {} threads, {} repetitions\n", o.model, drafter,
               o.draft_n, o.threads, o.reps);
    fmt::print("plain greedy      {:5} tokens: {:9.2f} ± {:.2f} tokens/s (prompt of {} included)\n", o.n_gen, plain,
               stdev(b.plain_tokens_per_s), std::max<int64_t>(o.n_prompt, 1));
    fmt::print("speculative       {:5} tokens: {:9.2f} ± {:.2f} tokens/s, speed-up {:.2f}x\n", o.n_gen, spec,
               stdev(b.speculative_tokens_per_s), plain > 0 ? spec / plain : 0.0);
    fmt::print("acceptance: {} of {} drafts ({:.1f} %), {:.2f} tokens per verification pass; ids {}\n",
               b.stats.accepted, b.stats.drafted, 100.0 * b.stats.acceptance(), b.stats.tokens_per_forward(o.n_gen),
               b.identical ? "identical to plain greedy" : "DIFFER from plain greedy");
  }
  if (!b.identical) fail("bench: speculative decoding printed other ids than plain greedy decoding");
  return 0;
}

int run_model_bench(const BenchCliOptions& o) {
  if (o.model.empty()) fail("bench: --model is required (or --membw)");
  OpenedModel opened = open_model(o.model);
  const WeightTraffic traffic = weight_traffic(opened);
  const ModelConfig config = opened.config;
  const std::string format(model_format_name(opened.format));
  auto model = build_model(std::move(opened));
  ThreadPool pool(o.threads);

  BenchOptions options;
  options.n_prompt = o.n_prompt;
  options.n_gen = o.n_gen;
  options.reps = o.reps;
  options.sequences = o.sequences;
  options.kv_type = o.kv_type == "f32" ? CacheType::F32 : CacheType::F16;
  const BenchRuns runs = run_bench(*model, options, pool);
  // Measured after the model runs so the buffer does not compete with it for memory, and with
  // the same threads, so the fraction compares like with like.
  const double bandwidth = o.skip_membw ? 0.0 : measure_read_bandwidth(pool, static_cast<uint64_t>(o.membw_mib) << 20, 3);

  const double pp = mean(runs.pp_tokens_per_s), tg = mean(runs.tg_tokens_per_s);
  // A step reads the weights once however many sequences it carries (routed experts: a lower
  // bound, as different sequences may pick different experts).
  const double tg_bytes_per_s = tg / o.sequences * static_cast<double>(traffic.per_token_bytes);
  const double roofline = bandwidth > 0 ? bandwidth / static_cast<double>(traffic.per_token_bytes) * o.sequences : 0.0;
  const double fraction = bandwidth > 0 ? tg_bytes_per_s / bandwidth : 0.0;
  const std::string kernel = attention_kernel_name(best_attention_kernel());
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"arch", config.arch},
                        {"format", format},
                        {"threads", o.threads},
                        {"n_prompt", o.n_prompt},
                        {"n_gen", o.n_gen},
                        {"reps", o.reps},
                        {"sequences", o.sequences},
                        {"kv_type", o.kv_type},
                        {"attention_kernel", kernel},
                        {"weight_bytes", traffic.total_bytes},
                        {"weight_bytes_per_token", traffic.per_token_bytes}};
    if (!runs.pp_tokens_per_s.empty()) {
      j["pp_tokens_per_s"] = pp;
      j["pp_stdev"] = stdev(runs.pp_tokens_per_s);
      j["pp_runs"] = runs.pp_tokens_per_s;
    }
    if (!runs.tg_tokens_per_s.empty()) {
      j["tg_tokens_per_s"] = tg;
      j["tg_stdev"] = stdev(runs.tg_tokens_per_s);
      j["tg_runs"] = runs.tg_tokens_per_s;
      j["tg_weight_gb_per_s"] = tg_bytes_per_s / kGB;
    }
    if (bandwidth > 0) {
      j["membw_gb_per_s"] = bandwidth / kGB;
      if (!runs.tg_tokens_per_s.empty()) {
        j["roofline_fraction"] = fraction;
        j["roofline_tokens_per_s"] = roofline;
      }
    }
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("model: {} ({}, {}), {} threads, kv {}, attention {}, {} repetitions{}\n", o.model, config.arch, format,
             o.threads, o.kv_type, kernel, o.reps,
             o.sequences > 1 ? fmt::format(", {} sequences decoded together (tokens/s summed over them)", o.sequences)
                             : "");
  fmt::print("weights: {:.3f} GB in the file, {:.3f} GB read per generated token{}\n", traffic.total_bytes / kGB,
             traffic.per_token_bytes / kGB,
             config.n_experts > 0 ? fmt::format(" ({} of {} routed experts active)", config.n_experts_used, config.n_experts)
                                  : "");
  if (!runs.pp_tokens_per_s.empty())
    fmt::print("prompt     {:5} tokens: {:9.2f} ± {:.2f} tokens/s\n", o.n_prompt, pp, stdev(runs.pp_tokens_per_s));
  if (!runs.tg_tokens_per_s.empty()) {
    fmt::print("generation {:5} tokens: {:9.2f} ± {:.2f} tokens/s = {:.1f} GB/s of weights", o.n_gen, tg,
               stdev(runs.tg_tokens_per_s), tg_bytes_per_s / kGB);
    if (bandwidth > 0)
      fmt::print(", {:.0f} % of the measured read bandwidth ({:.1f} GB/s; roofline {:.1f} tokens/s)", 100 * fraction,
                 bandwidth / kGB, roofline);
    fmt::print("\n");
  }
  return 0;
}

void register_bench(CLI::App& app, const SetRunner& set_runner) {
  auto o = std::make_shared<BenchCliOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "prompt and generation speed, bytes per token, read bandwidth");
  cmd->add_option("--model,-m", o->model, "GGUF file or HF model directory");
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens, one batch (0 = skip)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("-n,--n-gen", o->n_gen, "generated tokens, one step each (0 = skip)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("-t,--threads", o->threads, "threads (default: one per physical core)")->check(CLI::Range(1, 256));
  cmd->add_option("-r,--reps", o->reps, "repetitions (at least 1)");
  cmd->add_option("--parallel", o->sequences,
                  "sequences prefilled and decoded together, one token each per step, as a server batches streams")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--kv-type", o->kv_type, "KV cache type")->check(CLI::IsMember({"f32", "f16"}));
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->add_flag("--membw", o->membw, "measure the read bandwidth only");
  cmd->add_flag("--no-membw", o->skip_membw, "skip the bandwidth measurement after a model bench");
  cmd->add_option("--membw-mib", o->membw_mib, "bandwidth buffer size in MiB (default 512, far past any L3)")
      ->check(CLI::Range(int64_t{16}, int64_t{1} << 16));
  auto* draft = cmd->add_option("--draft-model", o->draft_model, "compare plain with speculative greedy decoding drafted by this model");
  cmd->add_option("--speculative", o->speculative, "compare plain with speculative greedy decoding drafted by the MTP layer")
      ->check(CLI::IsMember({"mtp"}))
      ->excludes(draft);
  cmd->add_option("--draft-n", o->draft_n, "draft tokens per verification pass")->check(CLI::Range(int64_t{1}, int64_t{64}));
  cmd->callback([o, set_runner] {
    set_runner([o] {
      if (o->membw) return run_membw(*o);
      return o->draft_model.empty() && o->speculative.empty() ? run_model_bench(*o) : run_speculative_bench(*o);
    });
  });
}

const CommandRegistration kBench{"bench", register_bench};

}  // namespace

}  // namespace dragon::cli
