// Every request body `dragon serve` accepts, through the real HTTP layer: the fuzz input's first
// byte picks the route (OpenAI chat / completions, Ollama chat / generate / show), the rest is the
// body. The request is parsed by cpp-httplib from a buffer (no socket), routed, checked field by
// field, rendered with the real Qwen3 chat template and tokenizer, and "generated" by a scripted
// backend whose answer holds reasoning, a tool call and plain text, streamed or not. Bad input
// must get a 4xx; a 500 (an exception the routes did not expect) or a crash is a finding.
#include <fcntl.h>
#include <httplib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "chat/model_template.h"
#include "fuzz/fuzz_support.h"
#include "server/routes.h"
#include "server/served_model.h"
#include "test_paths.h"

using namespace dragon;
using namespace dragon::server;

namespace {

// Answers synchronously, from inside submit(): a few pieces chosen by the prompt length.
class ScriptedBackend : public Backend {
 public:
  RequestId submit(GenerationRequest r, RequestCallbacks cb) override {
    if (r.prompt.empty()) fail("the prompt is empty");
    static const std::vector<std::vector<std::string>> scripts = {
        {"Hi", " there", "."},
        {"<think>", "\nhm", "</think>", "\n\n", "Hello"},
        {"<tool", "_call>\n{\"name\": \"f\", ", "\"arguments\": {\"x\": 1}}\n</tool_call>"},
        {"{\"a\"", ": [1, 2", "]}"}};
    const auto& pieces = scripts[r.prompt.size() % scripts.size()];
    FinishEvent f;
    f.reason = FinishReason::Stop;
    f.prompt_tokens = int64_t(r.prompt.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (int64_t(i) >= r.max_tokens) {
        f.reason = FinishReason::Length;
        break;
      }
      TokenEvent t{int32_t(100 + i), pieces[i], std::nullopt, {}};
      if (r.top_logprobs >= 0) {
        t.logprob = TokenLogprob{t.token, -0.5f};
        for (int k = 0; k < r.top_logprobs; ++k) t.top.push_back({int32_t(200 + k), -1.0f - k});
      }
      ++f.completion_tokens;
      if (!cb.on_token(t)) {
        f.reason = FinishReason::Cancelled;
        break;
      }
    }
    cb.on_finish(f);
    return next_id_++;
  }
  void cancel(RequestId) override {}
  EngineStats stats() const override { return {}; }

 private:
  RequestId next_id_ = 1;
};

// httplib's request processing on a buffer: process_request is protected, and a chunked
// (streamed) response is written only while the server "listens", i.e. has a socket.
class BufferServer : public httplib::Server {
 public:
  BufferServer() { svr_sock_ = open("/dev/null", O_RDONLY); }
  std::string handle(const std::string& raw_request) {
    httplib::detail::BufferStream stream;
    stream.write(raw_request.data(), raw_request.size());
    bool closed = false;
    process_request(stream, /*close_connection=*/true, closed, [](httplib::Request&) {});
    return stream.get_buffer().substr(raw_request.size());
  }
};

struct Fixture {
  std::unique_ptr<Tokenizer> tokenizer;
  ServedModel model;
  ScriptedBackend backend;
  std::unique_ptr<ServerContext> ctx;
  BufferServer http;

  Fixture() {
    const std::string dir = (test::tokenizers_dir() / "qwen3").string();
    tokenizer = load_tokenizer(dir);
    model.name = "tiny";
    model.path = dir;
    model.tokenizer = tokenizer.get();
    model.chat_template = chat::load_model_template(dir);
    model.parsed_template = chat::ChatTemplate::parse(model.chat_template.source);
    model.stop_tokens = stop_token_ids(*tokenizer, model.chat_template, dir);
    model.n_ctx = 64;
    model.tool_format = chat::tool_call_format_of_template(model.chat_template.source);
    ServerOptions options;
    options.log_requests = false;
    ctx.reset(new ServerContext{backend, model, options, {}});
    http.set_payload_max_length(1 << 20);
    register_openai_routes(http, *ctx);
    register_ollama_routes(http, *ctx);
    register_status_routes(http, *ctx);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fx = new Fixture;  // lives for the process (the routes hold references into it)
  if (size == 0) return 0;
  static const char* routes[] = {"/v1/chat/completions", "/v1/completions", "/api/chat", "/api/generate", "/api/show"};
  const char* route = routes[data[0] % 5];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string raw = std::string("POST ") + route + " HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n" +
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string response = fx->http.handle(raw);
  if (response.rfind("HTTP/1.1 5", 0) == 0) fuzz::finding(std::string(route) + " answered 5xx:\n" + response.substr(0, 2000));
  return 0;
}
