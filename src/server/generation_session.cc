#include "server/generation_session.h"

namespace dragon::server {

// Engine's finish_reason_name() lives with the engine; the server keeps its own so that its
// tests link without one.
const char* finish_reason_text(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: break;
  }
  return "error";
}

GenerationSession::GenerationSession(Backend& backend, int n, Metrics* metrics)
    : backend_(backend), n_(n), metrics_(metrics), finished_(n, 0), last_token_(n), seen_token_(n, 0) {}

std::shared_ptr<GenerationSession> GenerationSession::start(Backend& backend, std::vector<GenerationRequest> requests,
                                                            Metrics* metrics) {
  std::shared_ptr<GenerationSession> s(new GenerationSession(backend, int(requests.size()), metrics));
  s->submitted_ = std::chrono::steady_clock::now();
  // The callbacks hold a weak reference: a session the HTTP side dropped just stops the request.
  std::weak_ptr<GenerationSession> weak = s;
  for (int i = 0; i < int(requests.size()); ++i) {
    RequestCallbacks cb;
    cb.on_token = [weak, i](const TokenEvent& token) {
      auto self = weak.lock();
      if (!self || self->cancelled_) return false;
      const auto now = std::chrono::steady_clock::now();
      if (self->metrics_) {
        if (!self->seen_token_[i])
          self->metrics_->observe_ttft(std::chrono::duration<double>(now - self->submitted_).count());
        else
          self->metrics_->observe_inter_token(std::chrono::duration<double>(now - self->last_token_[i]).count());
      }
      self->seen_token_[i] = 1;
      self->last_token_[i] = now;
      {
        std::lock_guard lock(self->mutex_);
        self->events_.push_back(SessionEvent{i, token, std::nullopt});
      }
      self->ready_.notify_all();
      return true;
    };
    cb.on_finish = [weak, i](const FinishEvent& finish) {
      auto self = weak.lock();
      if (!self) return;
      if (self->metrics_) self->metrics_->count_finish(finish_reason_text(finish.reason));
      {
        std::lock_guard lock(self->mutex_);
        self->finished_[i] = 1;
        self->events_.push_back(SessionEvent{i, std::nullopt, finish});
      }
      self->ready_.notify_all();
    };
    try {
      const RequestId id = backend.submit(std::move(requests[i]), std::move(cb));
      std::lock_guard lock(s->mutex_);
      s->ids_.push_back(id);
    } catch (...) {
      s->cancel();
      throw;
    }
  }
  return s;
}

GenerationSession::~GenerationSession() {
  // Requests still running when the HTTP side gives up (an exception, a client gone).
  if (!finished()) {
    cancelled_ = true;
    for (RequestId id : ids_) backend_.cancel(id);
  }
}

bool GenerationSession::next(SessionEvent& event, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  event = std::move(events_.front());
  events_.pop_front();
  if (event.finish) ++finished_popped_;
  return true;
}

bool GenerationSession::finished() const {
  std::lock_guard lock(mutex_);
  return finished_popped_ == n_;
}

void GenerationSession::cancel() {
  cancelled_ = true;
  std::vector<RequestId> ids;
  {
    std::lock_guard lock(mutex_);
    ids = ids_;
  }
  for (RequestId id : ids) backend_.cancel(id);
}

}  // namespace dragon::server
