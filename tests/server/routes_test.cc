// The HTTP routes over a scripted backend (no model): OpenAI chat / completions / models,
// streaming, reasoning and tool-call splitting, logprobs, errors with the right status and
// body, auth, Ollama routes, /health, /metrics, and a client that disconnects mid-stream
// cancelling its request. The prompt goes through the real Qwen3 tokenizer and chat template.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "chat/model_template.h"
#include "server/http_server.h"
#include "server/served_model.h"
#include "test_paths.h"
#include "server/fake_backend.h"

namespace dragon::server::test {
namespace {

using json = nlohmann::json;

// The script: what each request "generates", chosen by a word in its prompt.
std::vector<std::string> script(const Tokenizer& tok, const GenerationRequest& r) {
  const std::string prompt = tok.decode(r.prompt);
  if (prompt.find("think") != std::string::npos) return {"<think>", "\nI should", " greet.\n", "</think>", "\n\n", "Hello", "!"};
  if (prompt.find("weather") != std::string::npos)
    return {"<tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"};
  if (prompt.find("forever") != std::string::npos) return std::vector<std::string>(100000, "la ");
  return {"Hi", " there", ",", " friend", "."};
}

class RoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = (dragon::test::tokenizers_dir() / "qwen3").string();
    tokenizer_ = load_tokenizer(dir).release();
    model_ = new ServedModel;
    model_->name = "tiny-qwen3";
    model_->path = dir;
    model_->tokenizer = tokenizer_;
    model_->chat_template = chat::load_model_template(dir);
    model_->parsed_template = chat::ChatTemplate::parse(model_->chat_template.source);
    model_->stop_tokens = stop_token_ids(*tokenizer_, model_->chat_template, dir);
    model_->n_ctx = 256;
    model_->tool_format = chat::tool_call_format_of_template(model_->chat_template.source);
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokenizer_;
  }

  void start(ServerOptions options = {}) {
    backend_ = std::make_unique<FakeBackend>([](const GenerationRequest& r) { return script(*tokenizer_, r); });
    options.port = 0;
    options.log_requests = std::getenv("DRAGON_TEST_LOG") != nullptr;
    options.max_body_bytes = 4096;
    server_ = std::make_unique<HttpServer>(*backend_, *model_, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(10);
  }
  void TearDown() override {
    client_.reset();  // closes its keep-alive connection, which a server thread would wait on
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    backend_.reset();
  }

  httplib::Result post(const std::string& path, const json& body, const httplib::Headers& headers = {}) {
    return client_->Post(path.c_str(), headers, body.dump(), "application/json");
  }
  static json chat_body(const std::string& user) {
    return {{"model", "tiny-qwen3"}, {"messages", {{{"role", "user"}, {"content", user}}}}, {"temperature", 0}};
  }
  // The data: lines of an SSE body, [DONE] excluded (it is checked to be last).
  static std::vector<json> sse_events(const std::string& body) {
    std::vector<json> out;
    std::istringstream in(body);
    std::string line, last;
    while (std::getline(in, line)) {
      if (line.rfind("data: ", 0) != 0) continue;
      last = line.substr(6);
      if (last != "[DONE]") out.push_back(json::parse(last));
    }
    EXPECT_EQ(last, "[DONE]");
    return out;
  }

  static Tokenizer* tokenizer_;
  static ServedModel* model_;
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

Tokenizer* RoutesTest::tokenizer_ = nullptr;
ServedModel* RoutesTest::model_ = nullptr;

TEST_F(RoutesTest, ChatCompletionUsesTheTemplateAndReportsUsage) {
  start();
  auto res = post("/v1/chat/completions", chat_body("Say hi"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hi there, friend.");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  const std::string prompt = tokenizer_->decode(backend_->requests.at(0).prompt);
  EXPECT_EQ(prompt, "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(j["usage"]["prompt_tokens"], backend_->requests.at(0).prompt.size());
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
  EXPECT_EQ(backend_->requests.at(0).sampling.temperature, 0.0f);
  EXPECT_FALSE(backend_->requests.at(0).stop_tokens.empty());
  std::printf("  prompt %zu tokens, answer %s\n", backend_->requests.at(0).prompt.size(),
              j["choices"][0]["message"]["content"].dump().c_str());
}

TEST_F(RoutesTest, SamplingFieldsReachTheEngine) {
  start();
  json body = chat_body("Say hi");
  body["temperature"] = 0.7;
  body["top_p"] = 0.9;
  body["seed"] = 42;
  body["n"] = 2;
  body["max_completion_tokens"] = 3;
  body["presence_penalty"] = 0.5;
  body["frequency_penalty"] = 0.25;
  body["logit_bias"] = {{"100", -100}};
  body["stop"] = {"friend"};
  body["messages"][0]["content"] = json::array({{{"type", "text"}, {"text", "Say"}}, {{"type", "text"}, {"text", "hi"}}});
  auto res = post("/v1/chat/completions", body);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hi there,");
  ASSERT_EQ(backend_->requests.size(), 2u);
  const GenerationRequest& r = backend_->requests[0];
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.7f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, 0.25f);
  ASSERT_EQ(r.sampling.logit_bias.size(), 1u);
  EXPECT_EQ(r.sampling.logit_bias[0].first, 100);
  EXPECT_EQ(r.max_tokens, 3);
  EXPECT_EQ(r.stop, std::vector<std::string>{"friend"});
  std::set<uint64_t> seeds{backend_->requests[0].sampling.seed, backend_->requests[1].sampling.seed};
  EXPECT_EQ(seeds, (std::set<uint64_t>{42, 43}));
  EXPECT_NE(tokenizer_->decode(r.prompt).find("Say\nhi"), std::string::npos);
}

TEST_F(RoutesTest, ReasoningIsSplitOut) {
  start();
  auto res = post("/v1/chat/completions", chat_body("think first"));
  ASSERT_EQ(res->status, 200) << res->body;
  const json m = json::parse(res->body)["choices"][0]["message"];
  EXPECT_EQ(m["reasoning_content"], "I should greet.");
  EXPECT_EQ(m["content"], "Hello!");
}

TEST_F(RoutesTest, ToolCallsAreParsed) {
  start();
  json body = chat_body("What is the weather in Paris?");
  body["tools"] = json::array({{{"type", "function"},
                                {"function",
                                 {{"name", "get_weather"},
                                  {"description", "weather of a city"},
                                  {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}});
  auto res = post("/v1/chat/completions", body);
  ASSERT_EQ(res->status, 200) << res->body;
  const json c = json::parse(res->body)["choices"][0];
  EXPECT_EQ(c["finish_reason"], "tool_calls");
  EXPECT_TRUE(c["message"]["content"].is_null());
  ASSERT_EQ(c["message"]["tool_calls"].size(), 1u);
  EXPECT_EQ(c["message"]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(c["message"]["tool_calls"][0]["function"]["arguments"].get<std::string>())["city"], "Paris");
  // The template told the model about the tool.
  EXPECT_NE(tokenizer_->decode(backend_->requests.at(0).prompt).find("\"name\": \"get_weather\""), std::string::npos);
}

TEST_F(RoutesTest, StreamingChunksAddUpAndEndWithUsage) {
  start();
  json body = chat_body("think first");
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  body["logprobs"] = true;
  body["top_logprobs"] = 2;
  auto res = post("/v1/chat/completions", body);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  const std::vector<json> events = sse_events(res->body);
  std::string content, reasoning, finish;
  int logprob_entries = 0;
  for (const json& e : events) {
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    if (e["choices"].empty()) continue;
    const json& d = e["choices"][0]["delta"];
    if (d.contains("content")) content += d["content"].get<std::string>();
    if (d.contains("reasoning_content")) reasoning += d["reasoning_content"].get<std::string>();
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
    if (!e["choices"][0]["logprobs"].is_null()) {
      for (const json& lp : e["choices"][0]["logprobs"]["content"]) {
        EXPECT_EQ(lp["top_logprobs"].size(), 2u);
        ++logprob_entries;
      }
    }
  }
  EXPECT_EQ(events.front()["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(content, "Hello!");
  EXPECT_EQ(reasoning, "I should greet.");
  EXPECT_EQ(finish, "stop");
  EXPECT_EQ(logprob_entries, 7);
  EXPECT_TRUE(events.back()["choices"].empty());
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], 7);
  std::printf("  %zu SSE events\n", events.size());
}

TEST_F(RoutesTest, CompletionsAndModels) {
  start();
  auto res = post("/v1/completions", {{"prompt", "Once upon"}, {"max_tokens", 2}, {"echo", true}, {"logprobs", 1}});
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json::parse(res->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "Once uponHi there");
  EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"].size(), 2u);
  EXPECT_EQ(tokenizer_->decode(backend_->requests.at(0).prompt), "Once upon");
  res = client_->Get("/v1/models");
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["data"][0]["id"], "tiny-qwen3");
}

TEST_F(RoutesTest, JsonModeAttachesAConstraint) {
  start();
  json body = chat_body("Say hi");
  body["response_format"] = {{"type", "json_object"}};
  ASSERT_EQ(post("/v1/chat/completions", body)->status, 200);
  EXPECT_NE(backend_->requests.at(0).constraint, nullptr);
}

TEST_F(RoutesTest, JsonSchemaAndToolChoiceAreCheckedAndConstrained) {
  start();
  const json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}, {"required", {"a"}}, {"additionalProperties", false}};
  json body = chat_body("Say hi");
  body["response_format"] = {{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"schema", schema}, {"strict", true}}}};
  ASSERT_EQ(post("/v1/chat/completions", body)->status, 200);
  EXPECT_NE(backend_->requests.at(0).constraint, nullptr);
  // Refused: an unsupported keyword, a strict schema breaking OpenAI's rules, a missing schema object.
  const auto error = [&](const json& rf) {
    json b = chat_body("Say hi");
    b["response_format"] = rf;
    auto res = post("/v1/chat/completions", b);
    EXPECT_EQ(res->status, 400) << res->body;
    const json j = json::parse(res->body);
    EXPECT_EQ(j["error"]["param"], "response_format");
    std::printf("  400 %s\n", j["error"]["message"].get<std::string>().c_str());
    return j["error"]["message"].get<std::string>();
  };
  EXPECT_NE(error({{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"schema", {{"type", "string"}, {"format", "email"}}}}}})
                .find("\"format\""), std::string::npos);
  EXPECT_NE(error({{"type", "json_schema"}, {"json_schema", {{"name", "s"}, {"strict", true},
                                                             {"schema", {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}}}}}})
                .find("strict"), std::string::npos);
  EXPECT_NE(error({{"type", "json_schema"}}).find("json_schema"), std::string::npos);
  // tool_choice: a named function must be among the tools; required attaches the call constraint (Qwen: Hermes).
  json tools = json::array({{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}});
  json t = chat_body("Say hi");
  t["tools"] = tools;
  t["tool_choice"] = {{"type", "function"}, {"function", {{"name", "g"}}}};
  auto res = post("/v1/chat/completions", t);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_NE(json::parse(res->body)["error"]["message"].get<std::string>().find("\"g\" is not among the tools"), std::string::npos)
      << res->body;
  t["tool_choice"] = "required";
  ASSERT_EQ(post("/v1/chat/completions", t)->status, 200);
  EXPECT_NE(backend_->requests.back().constraint, nullptr);
  t.erase("tools");
  EXPECT_EQ(post("/v1/chat/completions", t)->status, 400);
}

TEST_F(RoutesTest, ErrorsHaveTheRightStatusAndBody) {
  ServerOptions o;
  o.api_key = "sekret";
  start(o);
  const httplib::Headers auth = {{"Authorization", "Bearer sekret"}};
  auto expect_error = [](const httplib::Result& res, int status, const std::string& needle) {
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << res->body;
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.contains("error")) << res->body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(needle), std::string::npos) << res->body;
    std::printf("  %d %s\n", res->status, j["error"]["message"].get<std::string>().c_str());
  };
  expect_error(post("/v1/chat/completions", chat_body("hi")), 401, "API key");
  expect_error(post("/v1/chat/completions", chat_body("hi"), {{"Authorization", "Bearer wrong"}}), 401, "API key");
  expect_error(client_->Post("/v1/chat/completions", auth, "{\"messages\": [", "application/json"), 400, "not valid JSON");
  json bad = chat_body("hi");
  bad["temperature"] = 3;
  expect_error(post("/v1/chat/completions", bad, auth), 400, "temperature");
  expect_error(post("/v1/chat/completions", chat_body([] {
    std::string words;
    for (int i = 0; i < 300; ++i) words += " word";
    return words;
  }()), auth), 400, "maximum context length");
  bad = chat_body("hi");
  bad["model"] = "gpt-4";
  expect_error(post("/v1/chat/completions", bad, auth), 404, "does not exist");
  expect_error(client_->Get("/v1/nothing", auth), 404, "no route");
  expect_error(post("/v1/chat/completions", chat_body(std::string(5000, 'x')), auth), 413, "larger than");
  backend_->queue_full = true;
  expect_error(post("/v1/chat/completions", chat_body("hi"), auth), 503, "busy");
  backend_->queue_full = false;
  EXPECT_EQ(client_->Get("/health")->status, 200);  // open without the key
  EXPECT_EQ(client_->Get("/metrics")->status, 401);
  auto ollama = client_->Get("/api/tags");
  EXPECT_EQ(ollama->status, 401);
  EXPECT_TRUE(json::parse(ollama->body)["error"].is_string());
}

TEST_F(RoutesTest, OllamaChatGenerateTagsShowVersion) {
  start();
  auto res = post("/api/chat", {{"model", "tiny-qwen3"}, {"messages", {{{"role", "user"}, {"content", "think first"}}}},
                                {"stream", false}, {"options", {{"temperature", 0}, {"num_predict", 50}}}});
  ASSERT_EQ(res->status, 200) << res->body;
  json j = json::parse(res->body);
  EXPECT_EQ(j["message"]["content"], "Hello!");
  EXPECT_EQ(j["message"]["thinking"], "I should greet.");
  EXPECT_EQ(j["done"], true);
  EXPECT_EQ(j["eval_count"], 7);
  EXPECT_EQ(backend_->requests.at(0).max_tokens, 50);

  res = post("/api/generate", {{"model", "tiny-qwen3:latest"}, {"prompt", "Say hi"}});  // streams by default
  ASSERT_EQ(res->status, 200) << res->body;
  std::istringstream lines(res->body);
  std::string line, text;
  int n = 0;
  json last;
  while (std::getline(lines, line)) {
    last = json::parse(line);
    text += last["response"].get<std::string>();
    ++n;
  }
  EXPECT_EQ(text, "Hi there, friend.");
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["done_reason"], "stop");
  std::printf("  /api/generate: %d NDJSON lines\n", n);

  res = client_->Get("/api/tags");
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["models"][0]["name"], "tiny-qwen3:latest");
  res = post("/api/show", {{"model", "tiny-qwen3"}});
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(json::parse(res->body)["template"].get<std::string>().find("im_start"), std::string::npos);
  res = client_->Get("/api/version");
  EXPECT_TRUE(json::parse(res->body)["version"].is_string());
  res = post("/api/chat", {{"model", "llama3"}, {"messages", json::array()}});
  EXPECT_EQ(res->status, 404);
  EXPECT_TRUE(json::parse(res->body)["error"].is_string());
}

// Ollama flags of the wrong type are the client's mistake (400), not an internal error (500):
// json's value("stream", true) threw a type_error (found by tests/fuzz/fuzz_server_request).
TEST_F(RoutesTest, OllamaFieldsOfTheWrongTypeAre400) {
  start();
  const json msgs = {{{"role", "user"}, {"content", "hi"}}};
  const std::vector<std::pair<std::string, json>> cases = {
      {"/api/chat", {{"model", "tiny-qwen3"}, {"messages", msgs}, {"stream", 0}}},
      {"/api/generate", {{"model", "tiny-qwen3"}, {"prompt", "hi"}, {"stream", "no"}}},
      {"/api/generate", {{"model", "tiny-qwen3"}, {"prompt", "hi"}, {"raw", 1}}},
      {"/api/show", {{"model", 5}}},
      {"/api/show", {{"name", json::array()}}}};
  for (const auto& [path, body] : cases) {
    auto res = post(path, body);
    ASSERT_TRUE(res) << path;
    std::printf("%s %s -> %d %s\n", path.c_str(), body.dump().c_str(), res->status, res->body.c_str());
    EXPECT_EQ(res->status, 400) << path << " " << body.dump();
    EXPECT_TRUE(json::parse(res->body)["error"].is_string());
  }
  // Not JSON at all, with a number beyond double's range: nlohmann's out_of_range, once a 500.
  auto bad = client_->Post("/v1/chat/completions", "2222222222222222222222e22222222222222 \"tiny\"", "application/json");
  ASSERT_TRUE(bad);
  std::printf("number overflow body -> %d %s\n", bad->status, bad->body.c_str());
  EXPECT_EQ(bad->status, 400);
  // Null still means "the default".
  auto res = post("/api/chat", {{"model", "tiny-qwen3"}, {"messages", msgs}, {"stream", nullptr}, {"raw", nullptr}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(RoutesTest, MetricsCountRequestsAndLatencies) {
  start();
  ASSERT_EQ(post("/v1/chat/completions", chat_body("hi"))->status, 200);
  auto res = client_->Get("/metrics");
  ASSERT_EQ(res->status, 200);
  for (const char* name : {"dragon_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1",
                           "dragon_time_to_first_token_seconds_count 1", "dragon_inter_token_latency_seconds_count 4",
                           "dragon_kv_positions_total 1024", "dragon_request_finish_total{reason=\"stop\"} 1"})
    EXPECT_NE(res->body.find(name), std::string::npos) << name << "\n" << res->body;
}

TEST_F(RoutesTest, ClientDisconnectCancelsTheRequest) {
  start();
  backend_->delay = std::chrono::milliseconds(5);
  json body = chat_body("sing forever");
  body["stream"] = true;
  int chunks = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 5; };  // then hang up
  client_->send(req);
  const auto start_wait = std::chrono::steady_clock::now();
  while (backend_->cancelled_finishes == 0 && std::chrono::steady_clock::now() - start_wait < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(backend_->cancelled_finishes, 1);
  std::printf("  cancelled %.0f ms after the client hung up\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_wait).count());
}

}  // namespace
}  // namespace dragon::server::test
