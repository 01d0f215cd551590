#include "server/route_support.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "server/api_error.h"
#include "server/json_schema_constraint.h"
#include "server/sse.h"
#include "util/error.h"

namespace dragon::server {

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body) {
  res.status = status;
  res.set_content(json_text(body), "application/json");
}

void send_error(httplib::Response& res, ErrorStyle style, int status, const std::string& message, const std::string& param) {
  if (style == ErrorStyle::Ollama)
    send_json(res, status, {{"error", message}});
  else
    send_json(res, status, openai_error_body(status, message, param));
  if (status == 503 || status == 429) res.set_header("Retry-After", "1");
}

void guarded(ServerContext& ctx, const httplib::Request& req, httplib::Response& res, const char* route,
             ErrorStyle style, const std::function<void()>& body) {
  const auto start = std::chrono::steady_clock::now();
  try {
    body();
  } catch (const ApiError& e) {
    send_error(res, style, e.status(), e.what(), e.param());
  } catch (const EngineQueueFull& e) {
    send_error(res, style, 503, fmt::format("the server is busy ({}); retry later", e.what()));
  } catch (const Error& e) {
    send_error(res, style, 400, e.what());
  } catch (const std::exception& e) {
    send_error(res, style, 500, fmt::format("internal error: {}", e.what()));
  }
  // A streamed response has no status yet (httplib sets 200 when it starts writing).
  const bool streaming = res.status == -1;
  const int status = streaming ? 200 : res.status;
  ctx.metrics.count_http(route, status);
  if (ctx.options.log_requests)
    fmt::print(stderr, "serve: {} {} -> {} ({:.3f} s{})\n", req.method, req.path, status,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
               streaming ? " to the headers, streaming" : "");
}

void check_model_name(const ServerContext& ctx, const std::string& name, ErrorStyle style) {
  if (name.empty() || name == ctx.model.name || name == ctx.model.path ||
      name == std::filesystem::path(ctx.model.path).filename().string())
    return;
  // Ollama clients add ":latest" to bare names.
  if (style == ErrorStyle::Ollama && name == ctx.model.name + ":latest") return;
  throw ApiError(404, fmt::format("The model `{}` does not exist; this server serves `{}`", name, ctx.model.name), "model",
                 "model_not_found");
}

std::vector<GenerationRequest> make_requests(const ServerContext& ctx, const std::vector<int32_t>& prompt,
                                             const GenerationFields& f) {
  const int64_t n_prompt = int64_t(prompt.size());
  const int64_t n_ctx = ctx.model.n_ctx;
  if (n_prompt == 0) bad_request("messages", "the prompt has no tokens");
  if (n_prompt >= n_ctx)
    bad_request("messages", fmt::format("This model's maximum context length is {} tokens. However, your prompt has {} "
                                        "tokens, which leaves no room for an answer. Please shorten the messages.",
                                        n_ctx, n_prompt));
  // The last token drawn is never fed back: an answer of k tokens needs k - 1 positions.
  const int64_t room = n_ctx - n_prompt + 1;
  const uint64_t seed = f.seed ? *f.seed : std::random_device{}() * 0x9E3779B97F4A7C15ull + std::random_device{}();
  std::vector<GenerationRequest> out;
  for (int i = 0; i < f.n; ++i) {
    GenerationRequest r;
    r.prompt = prompt;
    r.sampling = f.sampling;
    r.sampling.seed = seed + uint64_t(i);
    r.max_tokens = std::min(f.max_tokens.value_or(room), room);
    r.stop = f.stop;
    r.stop_tokens = ctx.model.stop_tokens;
    r.ignore_eos = f.ignore_eos;
    r.top_logprobs = f.top_logprobs;
    // The tool-call and reasoning parsers need the marker tokens' text (DeepSeek's and Kimi's
    // tool-call markers are special tokens, GLM's and MiniMax's may be).
    r.skip_special_tokens = !chat::tool_call_markers_are_special(ctx.model.tool_format);
    if (f.response_format != ResponseFormat::Text)
      r.constraint = std::make_shared<JsonSchemaConstraint>(f.json_schema, ctx.model.token_table(), ctx.model.stop_tokens, r.max_tokens);
    out.push_back(std::move(r));
  }
  return out;
}

void collect(const ServerContext& ctx, GenerationSession& session, const std::function<void(const SessionEvent&)>& on_event) {
  const auto deadline = std::chrono::steady_clock::now() + ctx.options.request_timeout;
  bool cancelled = false;
  SessionEvent ev;
  while (!session.finished()) {
    if (session.next(ev, std::chrono::milliseconds(200))) on_event(ev);
    if (!cancelled && std::chrono::steady_clock::now() > deadline) {
      session.cancel();  // the engine still reports on_finish (Cancelled)
      cancelled = true;
    }
  }
}

namespace {

struct StreamState {
  std::chrono::steady_clock::time_point deadline, last_write;
  bool cancelled = false, ended = false;
};

}  // namespace

void stream(const ServerContext& ctx, httplib::Response& res, std::shared_ptr<GenerationSession> session,
            const char* content_type, std::function<std::string(const SessionEvent&)> on_event,
            std::function<std::string()> on_end, bool heartbeat_comments) {
  auto state = std::make_shared<StreamState>();
  state->deadline = std::chrono::steady_clock::now() + ctx.options.request_timeout;
  state->last_write = std::chrono::steady_clock::now();
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      content_type,
      [session, state, on_event = std::move(on_event), on_end = std::move(on_end), heartbeat_comments](
          size_t, httplib::DataSink& sink) {
        std::string out;
        SessionEvent ev;
        auto wait = std::chrono::milliseconds(100);
        try {
          while (out.size() < 16384 && session->next(ev, wait)) {
            out += on_event(ev);
            wait = std::chrono::milliseconds(0);
          }
        } catch (const std::exception& e) {
          // Headers are gone already: all that is left is to end the stream early.
          fmt::print(stderr, "serve: error while streaming: {}\n", e.what());
          session->cancel();
          return false;
        }
        const auto now = std::chrono::steady_clock::now();
        if (out.empty() && heartbeat_comments && now - state->last_write > std::chrono::seconds(1))
          out = ": keep-alive\n\n";  // an SSE comment: finds a client that went away during a long prefill
        if (!out.empty()) {
          state->last_write = now;
          if (!sink.write(out.data(), out.size())) {
            session->cancel();
            return false;
          }
        }
        if (session->finished()) {
          const std::string tail = on_end();
          if (!tail.empty()) sink.write(tail.data(), tail.size());
          state->ended = true;
          sink.done();
          return true;
        }
        if (!state->cancelled && now > state->deadline) {
          session->cancel();
          state->cancelled = true;
        }
        if (sink.is_writable && !sink.is_writable()) {
          session->cancel();
          return false;
        }
        return true;
      },
      [session, state](bool success) {
        if (!success || !state->ended) session->cancel();
      });
}

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), uint32_t(rng()));
}

int64_t unix_time() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace dragon::server
