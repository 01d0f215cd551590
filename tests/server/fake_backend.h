// A scripted stand-in for the engine, so the routes can be tested without a model: each
// request "generates" the pieces the script returns for it (token ids 100, 101, ...), one every
// `delay`, honouring max_tokens, stop strings, cancel() and a false from on_token. It records
// the requests it was given.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/backend.h"
#include "util/error.h"

namespace dragon::server::test {

class FakeBackend : public Backend {
 public:
  using Script = std::function<std::vector<std::string>(const GenerationRequest&)>;
  explicit FakeBackend(Script script) : script_(std::move(script)) {}
  ~FakeBackend() override {
    for (auto& t : threads_) t.join();
  }

  RequestId submit(GenerationRequest request, RequestCallbacks callbacks) override {
    if (queue_full) throw EngineQueueFull("4 requests waiting");
    if (request.prompt.empty()) fail("the prompt is empty");
    std::lock_guard lock(mutex_);
    const RequestId id = next_id_++;
    cancelled_[id] = false;
    requests.push_back(request);
    threads_.emplace_back([this, id, request = std::move(request), callbacks = std::move(callbacks)] {
      run(id, request, callbacks);
    });
    return id;
  }
  void cancel(RequestId id) override {
    std::lock_guard lock(mutex_);
    if (cancelled_.count(id)) cancelled_[id] = true;
    ++cancel_calls;
  }
  EngineStats stats() const override {
    EngineStats s;
    std::lock_guard lock(mutex_);
    s.requests_total = next_id_ - 1;
    s.kv_positions_total = 1024;
    return s;
  }

  std::atomic<bool> queue_full{false};
  std::chrono::milliseconds delay{1};
  std::vector<GenerationRequest> requests;  // as submitted (read after the response came)
  std::atomic<int> cancel_calls{0}, cancelled_finishes{0};

 private:
  void run(RequestId id, const GenerationRequest& r, const RequestCallbacks& cb) {
    const std::vector<std::string> pieces = script_(r);
    FinishEvent f;
    f.prompt_tokens = int64_t(r.prompt.size());
    f.cached_tokens = 3;
    f.reason = FinishReason::Length;
    std::string text;
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::this_thread::sleep_for(delay);
      {
        std::lock_guard lock(mutex_);
        if (cancelled_[id]) {
          f.reason = FinishReason::Cancelled;
          break;
        }
      }
      if (int64_t(i) >= r.max_tokens) break;
      text += pieces[i];
      bool stopped = false;
      std::string piece = pieces[i];
      for (const auto& s : r.stop)
        if (size_t at = text.find(s); at != std::string::npos) {
          piece = piece.substr(0, piece.size() - std::min(piece.size(), text.size() - at));
          stopped = true;
        }
      TokenEvent t{int32_t(100 + i), piece, std::nullopt, {}};
      if (r.top_logprobs >= 0) {
        t.logprob = TokenLogprob{t.token, -0.5f};
        for (int k = 0; k < r.top_logprobs; ++k) t.top.push_back({int32_t(200 + k), -1.0f - k});
      }
      ++f.completion_tokens;
      if (!cb.on_token(t)) {
        f.reason = FinishReason::Cancelled;
        break;
      }
      if (stopped) {
        f.reason = FinishReason::Stop;
        break;
      }
      if (i + 1 == pieces.size()) f.reason = FinishReason::Stop;
    }
    if (pieces.empty()) f.reason = FinishReason::Stop;
    if (f.reason == FinishReason::Cancelled) ++cancelled_finishes;
    cb.on_finish(f);
  }

  Script script_;
  mutable std::mutex mutex_;
  RequestId next_id_ = 1;
  std::map<RequestId, bool> cancelled_;
  std::vector<std::thread> threads_;
};

}  // namespace dragon::server::test
