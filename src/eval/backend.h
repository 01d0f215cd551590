// What answers the questions: a local model (letter logits, or greedy chat generation) or an
// OpenAI-compatible endpoint. The runner hands a backend one batch of questions at a time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "eval/exam.h"

namespace dragon::eval {

struct Query {
  const ExamItem* item;
  std::string text;                 // the base-model prompt (logits mode)
  nlohmann::ordered_json messages;  // the chat turns (generate mode)
};

struct Response {
  std::string pred;                  // the chosen letter, "" = no answer found
  std::string output;                // generated text (generate mode)
  std::vector<double> letter_scores; // logits (local) or logprobs (endpoint) of A, B, ... (logits mode)
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // One response per query, in order. Throws dragon::Error on a failure that should stop the run.
  virtual std::vector<Response> run(const std::vector<Query>& queries) = 0;
  virtual size_t batch_size() const = 0;
  virtual std::string describe() const = 0;  // for the report: "local letter logits", ...
};

// Index of the largest score (the first on ties), or -1 for none.
int argmax_index(const std::vector<double>& scores);

}  // namespace dragon::eval
