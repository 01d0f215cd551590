// What the HTTP layer needs from the engine: submit / cancel / stats. The server talks to this
// interface rather than to dragon::Engine itself so that the routes can be tested against a
// scripted backend (tests/server/fake_backend.h) with no model; `dragon serve` adapts the real
// Engine to it (EngineBackend, below).
#pragma once

#include "runtime/engine.h"

namespace dragon::server {

class Backend {
 public:
  virtual ~Backend() = default;
  // As Engine::submit: throws dragon::Error (a bad request) or EngineQueueFull.
  virtual RequestId submit(GenerationRequest request, RequestCallbacks callbacks) = 0;
  virtual void cancel(RequestId id) = 0;
  virtual EngineStats stats() const = 0;
};

// Header-only on purpose: only `dragon serve` instantiates it, so dragon_core does not need the
// engine's symbols to link the tests.
template <typename EngineT>
class EngineBackend : public Backend {
 public:
  explicit EngineBackend(EngineT& engine) : engine_(engine) {}
  RequestId submit(GenerationRequest request, RequestCallbacks callbacks) override {
    return engine_.submit(std::move(request), std::move(callbacks));
  }
  void cancel(RequestId id) override { engine_.cancel(id); }
  EngineStats stats() const override { return engine_.stats(); }

 private:
  EngineT& engine_;
};

}  // namespace dragon::server
