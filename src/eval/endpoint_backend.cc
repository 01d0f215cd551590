#include "eval/endpoint_backend.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "eval/answer_extract.h"
#include "eval/http_client.h"
#include "util/error.h"

namespace dragon::eval {

EndpointBackend::EndpointBackend(EndpointOptions options, Mode mode) : options_(std::move(options)), mode_(mode) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
  if (options_.base_url.rfind("http://", 0) != 0 && options_.base_url.rfind("https://", 0) != 0)
    fail("--endpoint {}: want an http:// or https:// URL (e.g. http://localhost:8080/v1)", options_.base_url);
  if (options_.model.empty()) fail("--endpoint needs --api-model (the model name the endpoint serves)");
}

std::string EndpointBackend::describe() const {
  return fmt::format("endpoint {} model {}, {}", options_.base_url, options_.model,
                     mode_ == Mode::Letters ? "letter logprobs from /completions" : "greedy /chat/completions");
}

nlohmann::json EndpointBackend::post(const std::string& path, const nlohmann::json& body) const {
  const std::string url = options_.base_url + path;
  std::string last_error;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500 * attempt));
    HttpResult r;
    try {
      r = http_post_json(url, body, options_.api_key, options_.timeout_seconds);
    } catch (const Error& e) {
      last_error = e.what();
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(r.body);
    } catch (const nlohmann::json::exception&) {
      last_error = fmt::format("{}: HTTP {}, not JSON: {}", url, r.status, r.body.substr(0, 200));
      if (r.status >= 400 && r.status < 500 && r.status != 429) break;
      continue;
    }
    if (r.status == 200) return j;
    std::string message = r.body.substr(0, 300);
    if (j.is_object() && j.contains("error")) {
      const nlohmann::json& e = j["error"];
      message = e.is_object() && e.contains("message") ? e["message"].dump() : e.dump();
    }
    last_error = fmt::format("{}: HTTP {}: {}", url, r.status, message);
    if (r.status >= 400 && r.status < 500 && r.status != 429) break;  // our request is wrong: retrying won't help
  }
  fail("{}", last_error);
}

Response EndpointBackend::ask_letters(const Query& q) const {
  const nlohmann::json body = {{"model", options_.model}, {"prompt", q.text},       {"max_tokens", 1},
                               {"temperature", 0},        {"logprobs", 20}};
  const nlohmann::json j = post("/completions", body);
  Response r;
  const size_t n = q.item->options.size();
  try {
    const nlohmann::json& choice = j.at("choices").at(0);
    r.output = choice.value("text", "");
    r.letter_scores.assign(n, -std::numeric_limits<double>::infinity());
    bool any = false;
    if (choice.contains("logprobs") && choice["logprobs"].is_object() && choice["logprobs"].contains("top_logprobs")) {
      const nlohmann::json& top = choice["logprobs"]["top_logprobs"];
      if (top.is_array() && !top.empty() && top[0].is_object())
        for (const auto& [token, logprob] : top[0].items()) {
          std::string t = token;
          while (!t.empty() && (t.front() == ' ' || t.front() == '\n')) t.erase(t.begin());
          if (t.size() == 1 && t[0] >= 'A' && static_cast<size_t>(t[0] - 'A') < n && logprob.is_number()) {
            double& slot = r.letter_scores[static_cast<size_t>(t[0] - 'A')];
            slot = std::max(slot, logprob.get<double>());  // "C" and " C" both count for C
            any = true;
          }
        }
    }
    r.pred = any ? option_letter(static_cast<size_t>(argmax_index(r.letter_scores))) : extract_answer(r.output, n);
    if (!any) r.letter_scores.clear();
  } catch (const nlohmann::json::exception& e) {
    fail("{}/completions: unexpected response ({}): {}", options_.base_url, e.what(), j.dump().substr(0, 300));
  }
  if (j.contains("usage") && j["usage"].is_object()) {
    r.prompt_tokens = j["usage"].value("prompt_tokens", int64_t{0});
    r.completion_tokens = j["usage"].value("completion_tokens", int64_t{0});
  }
  return r;
}

Response EndpointBackend::ask_chat(const Query& q) const {
  const nlohmann::json body = {{"model", options_.model},
                               {"messages", nlohmann::json::parse(q.messages.dump())},
                               {"temperature", 0},
                               {"max_tokens", options_.max_tokens}};
  const nlohmann::json j = post("/chat/completions", body);
  Response r;
  try {
    const nlohmann::json& message = j.at("choices").at(0).at("message");
    r.output = message.contains("content") && message["content"].is_string() ? message["content"].get<std::string>() : "";
  } catch (const nlohmann::json::exception& e) {
    fail("{}/chat/completions: unexpected response ({}): {}", options_.base_url, e.what(), j.dump().substr(0, 300));
  }
  r.pred = extract_answer(r.output, q.item->options.size());
  if (j.contains("usage") && j["usage"].is_object()) {
    r.prompt_tokens = j["usage"].value("prompt_tokens", int64_t{0});
    r.completion_tokens = j["usage"].value("completion_tokens", int64_t{0});
  }
  return r;
}

std::vector<Response> EndpointBackend::run(const std::vector<Query>& queries) {
  std::vector<Response> out;
  for (const Query& q : queries) out.push_back(mode_ == Mode::Letters ? ask_letters(q) : ask_chat(q));
  return out;
}

}  // namespace dragon::eval
