// Scoring on a tiny synthetic Qwen3 (2 layers, width 64, the real vocabulary and chat template):
// the letter the local backend picks must be the argmax of the letters' logits computed here
// independently (one prompt at a time through prompt_logits), whatever the batch size and
// however the prompts are split into forward calls; and generate mode must run to an answer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "eval/ceval.h"
#include "eval/local_backend.h"
#include "eval/prompt.h"
#include "eval/runner.h"
#include "runtime/generation.h"
#include "synth/synth.h"
#include "test_paths.h"

namespace dragon::eval {
namespace {

namespace fs = std::filesystem;

class EvalScoring : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("dragon_eval_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    SynthOptions o;
    o.preset = "qwen3-0.6b";
    o.layers = 2;
    o.sets = {"hidden_size=64", "intermediate_size=128", "num_attention_heads=4", "num_key_value_heads=2", "head_dim=32"};
    o.seed = 11;
    o.out = (*dir_ / "tiny.gguf").string();
    o.tokenizer_dir = test::tokenizers_dir().string();
    synthesize(o);
    CevalOptions c;
    c.shots = 2;
    exam_ = new Exam(load_ceval((test::source_dir() / "tests" / "eval" / "data" / "ceval").string(), c));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete exam_;
  }
  static std::string model_path() { return (*dir_ / "tiny.gguf").string(); }

  static fs::path* dir_;
  static Exam* exam_;
};
fs::path* EvalScoring::dir_ = nullptr;
Exam* EvalScoring::exam_ = nullptr;

TEST_F(EvalScoring, LetterChoiceIsTheArgmaxOfTheLetterLogits) {
  // The expectation, computed without the backend: one prompt at a time, logits of the last position.
  auto model = build_model(open_model(model_path()));
  const auto tok = load_tokenizer(model_path());
  std::vector<int32_t> letter_ids;
  for (const char* l : {"A", "B", "C", "D"}) {
    const auto ids = tok->encode(l, false, false);
    ASSERT_EQ(ids.size(), 1u) << l;
    letter_ids.push_back(ids[0]);
  }
  ThreadPool pool(1);
  std::vector<std::vector<double>> want_scores;
  std::vector<std::string> want_pred;
  for (const ExamItem& item : exam_->items) {
    const std::vector<int32_t> tokens = tok->encode(base_prompt("ceval", item, *exam_->shots_for(item.subject)), true, false);
    KVCache cache(model->config(), static_cast<int64_t>(tokens.size()), 1, CacheType::F32);
    const Activations logits = prompt_logits(*model, tokens, cache, pool);
    const float* last = logits.row(logits.rows - 1);
    std::vector<double> scores;
    for (int32_t id : letter_ids) scores.push_back(last[id]);
    int best = 0;
    for (int k = 1; k < 4; ++k)
      if (scores[k] > scores[best]) best = k;
    want_scores.push_back(scores);
    want_pred.push_back(std::string(1, static_cast<char>('A' + best)));
  }

  // Batches of 1 and 3 sequences; forward calls of at most 50 tokens split the prompts mid-way.
  for (const auto& [batch, max_tokens] : {std::pair{1, 2048}, std::pair{3, 2048}, std::pair{3, 50}}) {
    LocalOptions o;
    o.model_path = model_path();
    o.batch = batch;
    o.max_batch_tokens = max_tokens;
    o.kv_type = CacheType::F32;
    LocalBackend backend(o, LocalBackend::Mode::Letters);
    EXPECT_EQ(backend.letter_tokens(4), letter_ids);
    RunnerOptions r;
    r.progress = false;
    const RunOutcome out = run_exam(*exam_, backend, r);
    ASSERT_EQ(out.results.size(), exam_->items.size());
    for (size_t i = 0; i < out.results.size(); ++i) {
      const ItemResult& got = out.results[i];
      ASSERT_EQ(got.letter_scores.size(), 4u);
      for (int k = 0; k < 4; ++k)
        EXPECT_NEAR(got.letter_scores[k], want_scores[i][k], 1e-4 * (1 + std::abs(want_scores[i][k])))
            << "batch " << batch << " item " << got.key << " letter " << k;
      EXPECT_EQ(got.pred, want_pred[i]) << got.key;
      EXPECT_EQ(got.correct, got.pred == exam_->items[i].answer);
    }
    std::string preds;
    for (const ItemResult& g : out.results) preds += g.pred;
    std::printf("  batch %d, forward calls of <= %d tokens: letters %s (answers ", batch, max_tokens, preds.c_str());
    for (const ExamItem& item : exam_->items) std::printf("%s", item.answer.c_str());
    std::printf(")\n");
  }
}

TEST_F(EvalScoring, GenerateModeAnswersThroughTheChatTemplate) {
  LocalOptions o;
  o.model_path = model_path();
  o.batch = 2;
  o.max_tokens = 6;
  LocalBackend backend(o, LocalBackend::Mode::Generate);
  Exam small = *exam_;
  small.items.resize(3);
  const Query q = make_query(small, small.items[0]);
  const std::vector<int32_t> prompt = backend.prompt_tokens(q);
  // The Qwen3 template: the prompt ends with the assistant turn's header.
  const std::string text = backend.tokenizer().decode(prompt);
  EXPECT_NE(text.find("<|im_start|>system\n你是一个中文人工智能助手，"), std::string::npos) << text;
  EXPECT_EQ(text.substr(text.size() - 22), "<|im_start|>assistant\n") << text;
  RunnerOptions r;
  r.progress = false;
  const RunOutcome out = run_exam(small, backend, r);
  ASSERT_EQ(out.results.size(), 3u);
  for (const ItemResult& g : out.results) {
    EXPECT_GT(g.completion_tokens, 0);
    EXPECT_LE(g.completion_tokens, 6);
    std::printf("  %s: %lld tokens generated, extracted \"%s\"\n", g.key.c_str(), static_cast<long long>(g.completion_tokens),
                g.pred.c_str());
  }
  // Greedy: the same answers when the questions run one at a time.
  o.batch = 1;
  LocalBackend single(o, LocalBackend::Mode::Generate);
  const RunOutcome again = run_exam(small, single, r);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(again.results[i].output, out.results[i].output) << i;
}

}  // namespace
}  // namespace dragon::eval
