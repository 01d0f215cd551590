// Speculative greedy decoding (runtime/speculative.h) on synthetic HF directories made here with
// a 512-token vocabulary (no tokenizer: the vocabulary would otherwise dominate the time): a tiny
// Qwen3 target with three drafts (itself, a differently seeded one, the target truncated to its
// first layer), and tiny DeepSeek-V3 and GLM-4.5 shapes drafting with their MTP layer. On 50 prompts
// every run must print exactly the ids of plain greedy decoding; a draft equal to the target must
// be accepted 100 %; a scripted drafter that corrupts chosen drafts checks the rollback (the
// rejected positions of the target's cache are overwritten, never read); and the MTP drafter's
// incremental proposals must equal the argmax of the MTP layer run over the whole sequence at once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "models/mtp.h"
#include "runtime/generation.h"
#include "runtime/model.h"
#include "runtime/speculative.h"
#include "io/safetensors.h"
#include "models/arch.h"
#include "synth/preset.h"
#include "synth/random.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon {
namespace {

namespace fs = std::filesystem;

constexpr int kPrompts = 50;
constexpr int64_t kGenerate = 16;

std::vector<std::vector<int32_t>> prompts(int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(std::min<int64_t>(vocab, 100000) - 1));
  std::uniform_int_distribution<int> len(1, 12);
  std::vector<std::vector<int32_t>> out;
  for (int i = 0; i < kPrompts; ++i) {
    std::vector<int32_t> p(static_cast<size_t>(len(rng)));
    for (int32_t& t : p) t = id(rng);
    out.push_back(std::move(p));
  }
  return out;
}

// An HF directory of `preset` with a 512-token vocabulary: config.json and F32 safetensors whose
// values are dragon synth's (synth_tensor_values), so layer l of two seeds-equal models agree.
std::string write_tiny_hf(const fs::path& dir, const std::string& preset, int64_t layers, uint64_t seed,
                          const nlohmann::json& overrides, const std::string& name) {
  nlohmann::json hf = nlohmann::json::parse(find_preset(preset)->config_json);
  hf.erase("quantization_config");
  hf["vocab_size"] = 512;
  hf["bos_token_id"] = 1;
  hf["eos_token_id"] = 2;
  hf["num_hidden_layers"] = layers;
  hf.merge_patch(overrides);
  const ModelConfig c = config_from_hf(hf);
  const ArchSpec* spec = find_arch_by_hf(hf["architectures"][0].get<std::string>());
  const fs::path out = dir / name;
  fs::create_directories(out);
  std::ofstream(out / "config.json") << hf.dump(2);
  const std::vector<HFTensorSpec> specs = spec->hf_tensors(c);
  SafetensorsWriter w;
  for (const HFTensorSpec& t : specs) w.add_tensor(t.name, DType::F32, t.shape);
  w.write_dir(out.string(), [&](size_t i) {
    const std::vector<float> v = synth_tensor_values(specs[i], seed);
    std::vector<uint8_t> bytes(v.size() * sizeof(float));
    std::memcpy(bytes.data(), v.data(), bytes.size());
    return bytes;
  });
  return out.string();
}

const nlohmann::json kQwen = {{"hidden_size", 64}, {"intermediate_size", 128}, {"num_attention_heads", 4},
                              {"num_key_value_heads", 2}, {"head_dim", 32}};
const nlohmann::json kV3 = {{"hidden_size", 64},          {"num_attention_heads", 2},    {"num_key_value_heads", 2},
                            {"intermediate_size", 128},   {"moe_intermediate_size", 32}, {"n_routed_experts", 16},
                            {"n_group", 4},               {"topk_group", 2},             {"num_experts_per_tok", 4},
                            {"q_lora_rank", 64},          {"first_k_dense_replace", 1}};
const nlohmann::json kGlm = {{"hidden_size", 64},        {"num_attention_heads", 4},     {"num_key_value_heads", 2},
                             {"head_dim", 16},           {"intermediate_size", 128},     {"moe_intermediate_size", 32},
                             {"n_routed_experts", 8},    {"num_experts_per_tok", 2},     {"use_qk_norm", true},
                             {"first_k_dense_replace", 1}};

std::vector<int32_t> greedy(Model& m, const std::vector<int32_t>& prompt, ThreadPool& pool) {
  KVCache cache(m.config(), static_cast<int64_t>(prompt.size()) + kGenerate, 1, CacheType::F32);
  return generate_greedy(m, prompt, kGenerate, cache, pool);
}

class SpeculativeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("dragon_speculative_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    main_ = write_tiny_hf(dir_, "qwen3-0.6b", 3, 5, kQwen, "main");
    other_ = write_tiny_hf(dir_, "qwen3-0.6b", 1, 6, kQwen, "other");
    // Same seed, first layer only: the target's embedding, head and first layer.
    truncated_ = write_tiny_hf(dir_, "qwen3-0.6b", 1, 5, kQwen, "truncated");
    v3_ = write_tiny_hf(dir_, "deepseek-v3", 2, 11, kV3, "v3");
    glm_ = write_tiny_hf(dir_, "glm-4.5-air", 2, 7, kGlm, "glm");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }


  // 50 prompts through draft-model speculation at k = 1..4 in turn; returns the stats summed.
  static SpeculativeStats run_draft_model(Model& target, Model& draft) {
    ThreadPool pool(1);
    SpeculativeStats total;
    int i = 0;
    for (const auto& prompt : prompts(target.config().vocab_size, 1)) {
      const int64_t ctx = static_cast<int64_t>(prompt.size()) + kGenerate;
      KVCache cache(target.config(), ctx, 1, CacheType::F32), draft_cache(draft.config(), ctx, 1, CacheType::F32);
      DraftModelDrafter drafter(draft, draft_cache, pool);
      SpeculativeStats st;
      const auto got = generate_speculative(target, prompt, kGenerate, cache, pool, drafter, 1 + i++ % 4, &st);
      EXPECT_EQ(got, greedy(target, prompt, pool)) << "prompt " << i;
      total.drafted += st.drafted;
      total.accepted += st.accepted;
      total.target_forwards += st.target_forwards;
    }
    return total;
  }

  static inline fs::path dir_;
  static inline std::string main_, other_, truncated_, v3_, glm_;
};

TEST_F(SpeculativeTest, DraftEqualToTargetIsAlwaysAccepted) {
  auto target = build_model(open_model(main_));
  auto draft = build_model(open_model(main_));
  const SpeculativeStats st = run_draft_model(*target, *draft);
  std::printf("draft == target: %lld drafted, %lld accepted (%.1f %%), %lld verification passes for %d x %lld tokens\n",
              static_cast<long long>(st.drafted), static_cast<long long>(st.accepted), 100.0 * st.acceptance(),
              static_cast<long long>(st.target_forwards), kPrompts, static_cast<long long>(kGenerate));
  EXPECT_GT(st.drafted, 0);
  EXPECT_EQ(st.accepted, st.drafted);
  EXPECT_LT(st.target_forwards, kPrompts * (kGenerate - 1));
}

TEST_F(SpeculativeTest, OtherDraftsGiveTheSameIds) {
  auto target = build_model(open_model(main_));
  for (const std::string& path : {other_, truncated_}) {
    auto draft = build_model(open_model(path));
    const SpeculativeStats st = run_draft_model(*target, *draft);
    std::printf("draft %s: %lld drafted, %lld accepted (%.1f %%)\n", fs::path(path).filename().c_str(),
                static_cast<long long>(st.drafted), static_cast<long long>(st.accepted), 100.0 * st.acceptance());
    EXPECT_GT(st.drafted, 0);
  }
}

// Proposes the target's true continuation except where `corrupt` says, so exactly which drafts
// are accepted is known in advance.
class ScriptedDrafter final : public Drafter {
 public:
  ScriptedDrafter(std::vector<int32_t> truth, size_t prompt_len, int64_t vocab)
      : truth_(std::move(truth)), prompt_len_(prompt_len), vocab_(vocab) {}
  std::vector<int32_t> propose(const std::vector<int32_t>& committed, int64_t k) override {
    std::vector<int32_t> d;
    for (int64_t j = 0; j < k; ++j) {
      const size_t idx = committed.size() - prompt_len_ + static_cast<size_t>(j);  // index into truth_
      int32_t t = idx < truth_.size() ? truth_[idx] : 0;
      // Every third call corrupts its draft number (call % k): 0 = the first (nothing accepted).
      if (calls_ % 3 == 0 && j == calls_ % k) {
        t = (t + 1) % static_cast<int32_t>(vocab_);
        expected_accepted_ += j;
        corrupted_ = true;
      }
      d.push_back(t);
    }
    if (!corrupted_) expected_accepted_ += k;
    corrupted_ = false;
    ++calls_;
    return d;
  }
  int64_t expected_accepted_ = 0;

 private:
  std::vector<int32_t> truth_;
  size_t prompt_len_;
  int64_t vocab_;
  int64_t calls_ = 0;
  bool corrupted_ = false;
};

TEST_F(SpeculativeTest, RejectedPositionsAreRolledBack) {
  auto target = build_model(open_model(main_));
  ThreadPool pool(1);
  const int64_t ks[] = {1, 2, 3, 5};
  int64_t drafted = 0, accepted = 0, i = 0;
  for (const auto& prompt : prompts(target->config().vocab_size, 2)) {
    const int64_t k = ks[i++ % 4];
    const auto truth = greedy(*target, prompt, pool);
    KVCache cache(target->config(), static_cast<int64_t>(prompt.size()) + kGenerate, 1, CacheType::F32);
    ScriptedDrafter drafter(truth, prompt.size(), target->config().vocab_size);
    SpeculativeStats st;
    EXPECT_EQ(generate_speculative(*target, prompt, kGenerate, cache, pool, drafter, k, &st), truth) << "k " << k;
    EXPECT_EQ(st.accepted, drafter.expected_accepted_) << "k " << k;
    drafted += st.drafted;
    accepted += st.accepted;
  }
  std::printf("scripted drafts (k = 1, 2, 3, 5 in turn, every third proposal corrupted): %lld drafted, %lld accepted\n",
              static_cast<long long>(drafted), static_cast<long long>(accepted));
  EXPECT_LT(accepted, drafted);
}

// Records what the MTP drafter proposes after each committed prefix.
class RecordingDrafter final : public Drafter {
 public:
  explicit RecordingDrafter(Drafter& inner) : inner_(inner) {}
  std::vector<int32_t> propose(const std::vector<int32_t>& committed, int64_t k) override {
    auto d = inner_.propose(committed, k);
    if (!d.empty()) first_.emplace_back(committed.size() - 1, d[0]);
    return d;
  }
  void observe(const TargetStep& step) override { inner_.observe(step); }
  bool wants_hidden() const override { return inner_.wants_hidden(); }
  std::vector<std::pair<size_t, int32_t>> first_;  // (pending position, first draft)

 private:
  Drafter& inner_;
};

void check_mtp(const std::string& path) {
  auto target = build_model(open_model(path));
  auto* mtp = dynamic_cast<MtpModel*>(target.get());
  ASSERT_NE(mtp, nullptr);
  ASSERT_EQ(mtp->n_mtp_layers(), 1);
  ThreadPool pool(1);
  SpeculativeStats total;
  int i = 0, checked = 0;
  for (const auto& prompt : prompts(target->config().vocab_size, 3)) {
    const int64_t ctx = static_cast<int64_t>(prompt.size()) + kGenerate;
    KVCache cache(target->config(), ctx, 1, CacheType::F32), mtp_cache(mtp->mtp_cache_config(), ctx, 1, CacheType::F32);
    MtpDrafter inner(*mtp, mtp_cache, pool);
    RecordingDrafter drafter(inner);
    SpeculativeStats st;
    const auto got = generate_speculative(*target, prompt, kGenerate, cache, pool, drafter, 1 + i++ % 3, &st);
    const auto truth = greedy(*target, prompt, pool);
    EXPECT_EQ(got, truth) << "prompt " << i;
    total.drafted += st.drafted;
    total.accepted += st.accepted;

    // The MTP layer over the whole committed sequence in one batch: row P - 1 predicts the token
    // after the one at P, which is what the drafter proposed with P pending.
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), truth.begin(), truth.end());
    KVCache whole(target->config(), static_cast<int64_t>(all.size()), 1, CacheType::F32);
    mtp->keep_hidden(true);
    prompt_logits(*target, all, whole, pool);
    mtp->keep_hidden(false);
    const Activations hidden = mtp->hidden();
    Batch batch;
    for (size_t p = 0; p + 1 < all.size(); ++p) batch.add(all[p + 1], static_cast<int64_t>(p), 0, true);
    KVCache whole_mtp(mtp->mtp_cache_config(), static_cast<int64_t>(all.size()), 1, CacheType::F32);
    Activations h(batch.size(), hidden.cols);
    std::copy_n(hidden.data.data(), h.data.size(), h.data.data());
    const Activations logits = mtp->mtp_forward(h, batch, whole_mtp, pool);
    for (const auto& [pending, draft] : drafter.first_) {
      ASSERT_LT(pending - 1, static_cast<size_t>(logits.rows));
      EXPECT_EQ(draft, argmax(logits.row(static_cast<int64_t>(pending) - 1), logits.cols))
          << "prompt " << i << " pending position " << pending;
      ++checked;
    }
  }
  std::printf("MTP %s: %lld drafted, %lld accepted (%.1f %%: random weights, the MTP layer was never trained); "
              "%d first drafts equal the whole-sequence MTP argmax\n",
              fs::path(path).filename().c_str(), static_cast<long long>(total.drafted),
              static_cast<long long>(total.accepted), 100.0 * total.acceptance(), checked);
  EXPECT_GT(checked, kPrompts);
}

TEST_F(SpeculativeTest, DeepSeekV3MtpGivesTheSameIds) { check_mtp(v3_); }
TEST_F(SpeculativeTest, Glm45MtpGivesTheSameIds) { check_mtp(glm_); }

TEST_F(SpeculativeTest, DraftWithAnotherVocabularyIsRefused) {
  auto target = build_model(open_model(main_));
  ModelConfig other = target->config();
  other.vocab_size += 1;
  EXPECT_THROW(check_draft_compatible(target->config(), other, nullptr, nullptr), Error);
  EXPECT_NO_THROW(check_draft_compatible(target->config(), target->config(), nullptr, nullptr));
}

}  // namespace
}  // namespace dragon
