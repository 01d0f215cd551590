#include "cli/chat_session.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>

#include "chat/chat_template.h"
#include "chat/reasoning_parser.h"
#include "cli/chat_input.h"
#include "util/error.h"

namespace dragon::cli {

namespace {

using ojson = nlohmann::ordered_json;

// Set by SIGINT; the answer's token callback and the input loop check it.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }
bool interrupted() { return g_interrupted.load(); }

// Installs the SIGINT handler without SA_RESTART (so a blocked read returns EINTR) for the
// session, and restores the previous one after.
class SigintGuard {
 public:
  SigintGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintGuard() { sigaction(SIGINT, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

constexpr const char* kHelp =
    "  /system TEXT   set the system message (empty: none); the conversation is kept\n"
    "  /temp X        sampling temperature (0 = greedy)\n"
    "  /think         show or hide the model's reasoning\n"
    "  /reset         forget the conversation\n"
    "  /save FILE     write the conversation as JSON (OpenAI messages)\n"
    "  /help          this list\n"
    "  /exit          leave (Ctrl-D too)\n"
    "  Multi-line input: end a line with \\ to continue it, or put the text between two \"\"\" lines.\n"
    "  Ctrl-C stops the answer being written.\n";

class ChatSession {
 public:
  explicit ChatSession(ChatSetup s)
      : s_(std::move(s)),
        template_(chat::ChatTemplate::parse(s_.tmpl.source)),
        reasoning_tags_(chat::reasoning_tags_of_template(s_.tmpl.source).value_or(chat::ReasoningTags{})) {}

  int run() {
    SigintGuard guard;
    print(style("2", fmt::format("dragon chat with {} — /help for commands, /exit or Ctrl-D to leave\n", s_.model_name)));
    while (true) {
      g_interrupted.store(false);
      const InputResult in = read_message(style("1", ">>> "), style("2", "... "), interrupted);
      if (in.status == InputStatus::EndOfInput) {
        print("\n");
        return 0;
      }
      if (in.status == InputStatus::Interrupted) {
        print(style("2", "\n(Ctrl-C: input dropped; /exit or Ctrl-D leaves)\n"));
        continue;
      }
      const std::string text = trim(in.text);
      if (text.empty()) continue;
      if (text[0] == '/') {
        if (!command(text)) return 0;
        continue;
      }
      answer(text);
    }
  }

 private:
  static std::string trim(const std::string& t) {
    const size_t a = t.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return "";
    return t.substr(a, t.find_last_not_of(" \t\r\n") - a + 1);
  }
  std::string style(const char* sgr, const std::string& text) const {
    return s_.color ? fmt::format("\x1b[{}m{}\x1b[0m", sgr, text) : text;
  }
  static void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }

  // Returns false to leave.
  bool command(const std::string& line) {
    const size_t space = line.find(' ');
    const std::string name = line.substr(0, space);
    const std::string arg = space == std::string::npos ? "" : trim(line.substr(space + 1));
    if (name == "/exit" || name == "/quit" || name == "/bye") return false;
    if (name == "/help" || name == "/?") {
      print(kHelp);
    } else if (name == "/system") {
      s_.system = arg;
      print(style("2", arg.empty() ? "(no system message)\n" : "(system message set)\n"));
    } else if (name == "/temp") {
      char* end = nullptr;
      const float t = arg.empty() ? -1.0f : std::strtof(arg.c_str(), &end);
      if (arg.empty() || *end != '\0' || !(t >= 0.0f && t <= 100.0f)) {
        print(style("31", fmt::format("/temp {}: expected a number >= 0\n", arg)));
      } else {
        s_.sampling.temperature = t;
        print(style("2", fmt::format("(temperature {})\n", t)));
      }
    } else if (name == "/think") {
      show_thinking_ = !show_thinking_;
      print(style("2", show_thinking_ ? "(reasoning shown)\n" : "(reasoning hidden)\n"));
    } else if (name == "/reset") {
      history_ = ojson::array();
      print(style("2", "(conversation cleared)\n"));
    } else if (name == "/save") {
      save(arg);
    } else {
      print(style("31", fmt::format("unknown command {} (/help lists them)\n", name)));
    }
    return true;
  }

  void save(const std::string& path) {
    if (path.empty()) {
      print(style("31", "/save: give a file name\n"));
      return;
    }
    ojson doc = ojson::array();
    if (!s_.system.empty()) doc.push_back({{"role", "system"}, {"content", s_.system}});
    for (const auto& m : history_) doc.push_back(m);
    std::ofstream out(path, std::ios::binary);
    out << doc.dump(2) << "\n";
    print(out ? style("2", fmt::format("(saved {} messages to {})\n", doc.size(), path))
              : style("31", fmt::format("/save: cannot write {}\n", path)));
  }

  std::vector<int32_t> render(const ojson& history) const {
    ojson messages = ojson::array();
    if (!s_.system.empty()) messages.push_back({{"role", "system"}, {"content", s_.system}});
    for (const auto& m : history) messages.push_back(m);
    const std::string prompt =
        template_.render(chat::make_chat_context(messages, nullptr, true, s_.tmpl.bos_token, s_.tmpl.eos_token));
    starts_in_reasoning_ = chat::prompt_opens_reasoning(prompt, reasoning_tags_);
    return s_.engine->tokenizer().encode(prompt, false, true);
  }

  void answer(const std::string& user) {
    ojson history = history_;
    history.push_back({{"role", "user"}, {"content", user}});
    GenerationRequest request;
    request.prompt = render(history);
    request.sampling = s_.sampling;
    request.max_tokens = s_.max_tokens;
    request.stop = s_.stops;
    request.stop_tokens = s_.stop_tokens;

    chat::ReasoningParser parser(starts_in_reasoning_, reasoning_tags_);
    std::string content, reasoning;
    bool in_reasoning = false;
    // Writes a parsed piece: reasoning dimmed (or summarized once when hidden), content plain.
    auto emit = [&](const chat::ReasoningDelta& d) {
      if (!d.reasoning.empty()) {
        reasoning += d.reasoning;
        if (!in_reasoning) {
          in_reasoning = true;
          print(style("2", show_thinking_ ? "Thinking...\n" : "(thinking...)"));
        }
        if (show_thinking_) print(style("2", d.reasoning));
      }
      if (!d.content.empty()) {
        if (in_reasoning) {
          in_reasoning = false;
          print(style("2", show_thinking_ ? "\n...done thinking.\n\n" : "\n"));
        }
        content += d.content;
        print(d.content);
      }
    };
    std::promise<FinishEvent> finished;
    RequestCallbacks callbacks;
    callbacks.on_token = [&](const TokenEvent& e) {
      if (g_interrupted.load()) return false;  // Ctrl-C: cancel the request
      emit(parser.push(e.text));
      return true;
    };
    callbacks.on_finish = [&](const FinishEvent& e) { finished.set_value(e); };
    RequestId id = 0;
    try {
      id = s_.engine->submit(std::move(request), std::move(callbacks));
    } catch (const Error& e) {
      print(style("31", fmt::format("error: {} (/reset starts a new conversation)\n", e.what())));
      return;
    }
    // Wait, polling the flag: a long prefill produces no token callback to notice Ctrl-C.
    auto future = finished.get_future();
    while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
      if (g_interrupted.load()) s_.engine->cancel(id);
    const FinishEvent end = future.get();
    if (end.reason != FinishReason::Cancelled) emit(parser.push(end.text));
    emit(parser.finish());
    if (end.reason == FinishReason::Cancelled) print(style("33", " [stopped]"));
    if (end.reason == FinishReason::Length) print(style("33", " [length limit]"));
    print("\n");
    if (end.reason == FinishReason::Error) {
      print(style("31", fmt::format("error: {}\n", end.error)));
      return;
    }
    // The history keeps the visible answer (as chat clients send it back), even a stopped one.
    history.push_back({{"role", "assistant"}, {"content", content}});
    history_ = std::move(history);
  }

  ChatSetup s_;
  chat::ChatTemplate template_;
  chat::ReasoningTags reasoning_tags_;  // Hy3 writes <think:opensource>, the others <think>
  ojson history_ = ojson::array();
  bool show_thinking_ = true;
  mutable bool starts_in_reasoning_ = false;
};

}  // namespace

int run_chat_session(ChatSetup setup) { return ChatSession(std::move(setup)).run(); }

}  // namespace dragon::cli
