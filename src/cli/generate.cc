// dragon generate --model M --tokens 1,2,3 -n 64 [--threads N] [--kv-type f32|f16]
//                 [--temp T --top-k K --top-p P --min-p P --repeat-penalty R
//                  --presence-penalty X --frequency-penalty X --seed S]
// Decoding through the KV cache; prints the generated ids comma-separated on one line (the
// format of llama_oracle --generate). Greedy by default, exactly the generate_greedy path; any
// sampling flag goes through the sampler (src/runtime/sampler.h), which never stops early here.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <memory>

#include "cli/commands.h"
#include "cli/model_run_options.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "util/error.h"

namespace dragon::cli {

namespace {

struct GenerateOptions {
  ModelRunOptions run;
  int64_t n = 64;
  SamplingParams sampling;
};

int run_generate(const GenerateOptions& o) {
  const std::vector<int32_t> prompt = parse_token_list(o.run.tokens);
  auto model = build_model(open_model(o.run.model));
  const ModelConfig& c = model->config();
  check_tokens(prompt, c.vocab_size);
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  // The last generated token is never fed back, so the cache needs prompt + n - 1 positions.
  const int64_t needed = n_prompt + std::max<int64_t>(o.n - 1, 0);
  if (n_prompt > c.context_length)
    fail("the prompt has {} tokens, more than the model's context of {}", n_prompt, c.context_length);
  if (needed > c.context_length)
    fail("the prompt ({} tokens) and -n {} need {} positions, more than the model's context of {}", n_prompt, o.n,
         needed, c.context_length);
  KVCache cache(c, o.run.ctx ? o.run.ctx : needed, 1, o.run.cache_type());
  if (needed > cache.n_ctx()) fail("the prompt and -n {} need {} positions, more than --ctx {}", o.n, needed, cache.n_ctx());
  ThreadPool pool(o.run.threads);
  const auto start = std::chrono::steady_clock::now();
  std::vector<int32_t> out;
  if (o.sampling.greedy() && !o.sampling.has_logit_changes()) {
    out = generate_greedy(*model, prompt, o.n, cache, pool);
  } else {
    Sampler sampler(o.sampling, c.vocab_size);
    out = generate_sampled(*model, prompt, o.n, cache, pool, sampler);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{}\n", fmt::join(out, ","));
  fmt::print(stderr, "generate: {} prompt + {} generated tokens in {:.2f} s\n", n_prompt, out.size(), seconds);
  return 0;
}

}  // namespace

void register_generate(CLI::App& app, const SetRunner& set_runner) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "decoding of token ids through the KV cache (greedy unless sampling flags are given)");
  options->run.add_to(*cmd);
  cmd->add_option("-n,--n-predict", options->n, "tokens to generate")->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  SamplingParams& s = options->sampling;
  cmd->add_option("--temp", s.temperature, "temperature (0 = greedy)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", s.top_k, "keep the k most likely tokens (0 = off)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", s.top_p, "keep the smallest set with this much mass (1 = off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", s.min_p, "drop tokens below min_p * the top probability (0 = off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", s.repetition_penalty, "HF repetition penalty over prompt and output (1 = off)");
  cmd->add_option("--presence-penalty", s.presence_penalty, "OpenAI presence penalty (0 = off)");
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "OpenAI frequency penalty (0 = off)");
  cmd->add_option("--seed", s.seed, "sampling seed");
  cmd->callback([options, set_runner] { set_runner([options] { return run_generate(*options); }); });
}

}  // namespace dragon::cli
