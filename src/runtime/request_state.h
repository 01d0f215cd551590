// One request's life inside the engine: how far its context is in its KV-cache sequence, the tokens
// it generated, and what turns a row of logits into the next token and the text the client
// sees (sampler, token constraint, log-probabilities, streaming detokenizer, stop strings).
// The engine's loop thread is the only one that touches a RequestState after submit().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "tokenizer/streaming_decoder.h"

namespace dragon {

using EngineClock = std::chrono::steady_clock;

class RequestState {
 public:
  // Throws dragon::Error for bad sampling parameters (the Sampler checks them).
  RequestState(RequestId id, GenerationRequest request, RequestCallbacks callbacks, const Tokenizer& tokenizer,
               int64_t n_vocab);

  RequestId id() const { return id_; }
  void set_id(RequestId id) { id_ = id; }  // given under the engine's lock, once the request is accepted
  const std::vector<int32_t>& prompt() const { return request_.prompt; }
  int64_t prompt_size() const { return static_cast<int64_t>(request_.prompt.size()); }

  // What the KV cache must hold before the request decodes: its prompt, and after a preemption
  // also the answer so far but its last token (drawn, not yet fed), recomputed on resumption.
  const std::vector<int32_t>& context() const { return context_; }
  int64_t context_size() const { return static_cast<int64_t>(context_.size()); }

  // The sequence of the KV cache the request runs in, once admitted (-1 while waiting).
  int slot = -1;
  // Context tokens whose keys / values are in the sequence (reused from the prefix cache + computed).
  int64_t prefilled = 0;
  // Prompt tokens found in the prefix cache at the first admission (reported as cached_tokens).
  int64_t cached = 0;
  bool admitted_before = false;  // counted in the engine's stats already
  int64_t preemptions = 0;

  bool prefilling() const { return prefilled < context_size(); }
  // The request lost its sequence (the KV cache ran out of blocks): it waits to be admitted
  // again and then recomputes its context, drawing no token it already drew.
  void preempt();
  // The token a decode step feeds (the last one drawn) and its position.
  int32_t decode_token() const { return generated_.back(); }
  int64_t decode_position() const { return prompt_size() + static_cast<int64_t>(generated_.size()) - 1; }
  int64_t completion_tokens() const { return static_cast<int64_t>(generated_.size()); }

  // Draws the next token from `logits` (n_vocab raw values), sends it to on_token and says
  // whether the request ends with it. `n_ctx` is the most positions of a sequence: a token that could not be
  // fed back ends the request with Length. Exceptions (a sampler failure, a throwing callback)
  // propagate; the engine then finishes the request with Error.
  std::optional<FinishReason> take_token(const float* logits, int64_t n_ctx);

  // Calls on_finish (once; later calls do nothing) with the held-back text and the counts.
  void finish(FinishReason reason, const std::string& error = {});
  bool finished() const { return finished_; }

  EngineClock::time_point submitted = EngineClock::now();
  // Latencies measured on the last take_token (for the engine's stats): the time to the first
  // token when it was the first, else the gap since the previous token.
  std::optional<double> last_ttft_s, last_inter_token_s;

 private:
  void add_logprobs(const float* logits, TokenEvent& event);

  RequestId id_;
  GenerationRequest request_;
  RequestCallbacks callbacks_;
  const Tokenizer& tokenizer_;
  int64_t n_vocab_;
  Sampler sampler_;
  StreamingDecoder decoder_;
  StopMatcher stops_;
  std::vector<int32_t> generated_;
  std::vector<int32_t> context_;
  std::vector<float> masked_;  // the logits a TokenConstraint masks (the raw row stays intact for logprobs)
  std::vector<int32_t> order_; // top_logprobs ranking, reused per token
  int32_t stop_token_ = -1;
  bool finished_ = false;
  EngineClock::time_point first_token_, last_token_;
};

}  // namespace dragon
