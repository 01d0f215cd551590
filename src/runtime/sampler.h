// Choosing the next token from a row of logits: greedy, or a seeded draw after logit bias,
// penalties, temperature and top-k / top-p / min-p truncation; and stop strings matched on the
// streamed text.
//
// Order of the steps (HF transformers' logits processors, which vLLM follows as well):
//   1. logit bias            (OpenAI: added to the logit; <= -100 or -inf bans the token)
//   2. repetition penalty    (HF / CTRL: over every token seen, prompt included, a positive
//                             logit is divided by the penalty, a negative one multiplied)
//   3. presence / frequency  (OpenAI: over generated tokens, minus presence once and minus
//                             frequency * count)
//   4. temperature           (logits / T)
//   5. top-k, 6. top-p (mass of the top-k set), 7. min-p (prob >= min_p * max prob), 8. draw.
// Why HF's order and not llama.cpp's default chain (which truncates first and applies the
// temperature last): the sampling values `dragon run` takes from a model's
// generation_config.json were chosen by its authors for HF / vLLM, where the temperature
// reshapes the distribution before top-p and min-p measure it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dragon {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  int32_t top_k = 0;         // 0 = off
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> added value
  uint64_t seed = 0;

  bool greedy() const { return temperature <= 0.0f || top_k == 1; }
  bool has_logit_changes() const {
    return !logit_bias.empty() || repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
};

// xoshiro256** seeded through splitmix64: the same seed gives the same numbers on every
// platform (std::uniform_real_distribution's output is implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits

 private:
  uint64_t s_[4];
};

struct Candidate {
  int32_t id;
  double prob;
};

class Sampler {
 public:
  // Throws dragon::Error for out-of-range parameters or logit_bias ids outside [0, n_vocab).
  Sampler(SamplingParams params, int64_t n_vocab);

  // Tokens the repetition penalty covers besides the generated ones (the prompt).
  void add_prompt(const std::vector<int32_t>& tokens);
  // Records a generated token (all penalties cover it).
  void accept(int32_t id);
  // The next token for `logits` (n_vocab values). Does not call accept().
  int32_t sample(const float* logits);
  // The distribution sample() draws from: kept tokens with probabilities summing to 1. Sorted
  // most probable first (ties: lower id first) when a truncation is active, else in id order.
  const std::vector<Candidate>& distribution(const float* logits);

  const SamplingParams& params() const { return params_; }

 private:
  const float* adjusted_logits(const float* logits);  // steps 1-3 into work_ (or `logits` itself)
  bool less_likely(int32_t a, int32_t b) const;

  SamplingParams params_;
  int64_t n_vocab_;
  Rng rng_;
  // Reused per token, never reallocated after the first.
  std::vector<float> work_;
  std::vector<int32_t> order_;
  std::vector<Candidate> candidates_;
  // Penalty history.
  std::vector<uint8_t> seen_;
  std::vector<int32_t> seen_ids_;
  std::vector<int32_t> generated_count_;
  std::vector<int32_t> generated_ids_;  // distinct
  const float* current_ = nullptr;      // the logits sort comparisons read
};

// Stop strings on streamed text: push() returns the text safe to emit now, holding back a tail
// that could be the start of a stop string; once a stop string appears, the text before it is
// returned and stopped() turns true (the stop string itself is never emitted).
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  std::string push(const std::string& piece);
  std::string finish();  // the held-back text, when generation ends without a stop
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace dragon
