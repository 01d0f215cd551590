// The bridge between the engine's loop thread and one HTTP request: submits the request's
// choices (n of them, seeds seed, seed+1, ...), and queues what the callbacks report so the HTTP
// thread can pop it at its own pace. The callbacks only push under a mutex — they run on the
// engine's loop and must be quick. cancel() (client gone, timeout) makes the next on_token
// return false and asks the engine to drop the requests at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "server/backend.h"
#include "server/metrics.h"

namespace dragon::server {

const char* finish_reason_text(FinishReason r);  // "stop", "length", "cancelled", "error"

struct SessionEvent {
  int index = 0;                      // which choice
  std::optional<TokenEvent> token;    // one of token / finish is set
  std::optional<FinishEvent> finish;
};

class GenerationSession : public std::enable_shared_from_this<GenerationSession> {
 public:
  // Submits every request; if one is refused the ones already queued are cancelled and the
  // error (dragon::Error, EngineQueueFull) propagates.
  static std::shared_ptr<GenerationSession> start(Backend& backend, std::vector<GenerationRequest> requests,
                                                  Metrics* metrics);
  ~GenerationSession();

  // Waits up to `timeout` for the next event; false when none came.
  bool next(SessionEvent& event, std::chrono::milliseconds timeout);
  bool finished() const;  // every choice has reported on_finish and been popped
  void cancel();
  int choices() const { return n_; }

 private:
  GenerationSession(Backend& backend, int n, Metrics* metrics);

  Backend& backend_;
  const int n_;
  Metrics* metrics_;
  std::vector<RequestId> ids_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<SessionEvent> events_;
  int finished_popped_ = 0;
  std::vector<uint8_t> finished_;  // per choice, set by on_finish
  // Latency bookkeeping per choice (loop thread only).
  std::chrono::steady_clock::time_point submitted_;
  std::vector<std::chrono::steady_clock::time_point> last_token_;
  std::vector<uint8_t> seen_token_;
};

}  // namespace dragon::server
