// An OpenAI-compatible endpoint (a vendor API, `dragon serve`, vLLM, llama-server) answering
// the same questions, so a hosted model and a local one are compared on the same items:
//   - generate: POST <base>/chat/completions {model, messages, temperature 0, max_tokens};
//     the answer is extract_answer() on choices[0].message.content.
//   - letters: POST <base>/completions {model, prompt, max_tokens 1, temperature 0, logprobs 20};
//     the answer is the option letter with the largest logprob among choices[0].logprobs
//     .top_logprobs[0] (leading spaces ignored; letters not listed count as -inf); when none of
//     the letters is listed, extract_answer() on the completion text.
// <base> is the URL as OpenAI clients take it ("http://host:8080/v1"). Failed requests are
// retried (--retries) before the run stops with the endpoint's error message.
#pragma once

#include <string>

#include "eval/backend.h"

namespace dragon::eval {

struct EndpointOptions {
  std::string base_url;
  std::string model;
  std::string api_key;
  int64_t max_tokens = 512;
  int retries = 2;
  long timeout_seconds = 600;
};

class EndpointBackend : public Backend {
 public:
  enum class Mode { Letters, Generate };
  EndpointBackend(EndpointOptions options, Mode mode);

  std::vector<Response> run(const std::vector<Query>& queries) override;
  size_t batch_size() const override { return 1; }
  std::string describe() const override;

 private:
  nlohmann::json post(const std::string& path, const nlohmann::json& body) const;
  Response ask_letters(const Query& q) const;
  Response ask_chat(const Query& q) const;

  EndpointOptions options_;
  Mode mode_;
};

}  // namespace dragon::eval
