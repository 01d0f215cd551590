// Speculative greedy decoding: a cheap drafter proposes the next k tokens, the target model checks
// all of them in ONE batched forward (positions p .. p+k of the sequence), and the longest prefix
// on which the draft agrees with the target's own argmax is kept, plus the target's next token.
// The output is therefore exactly the target's greedy decoding (generate_greedy): the drafter only
// decides how many target steps one forward pass covers.
//
// Rollback needs nothing but the KV cache's own rule (KVCache::begin_batch): writing an earlier
// position drops everything after it, so rejected positions are simply overwritten by the next
// batch. Both caches are driven only through Model::forward.
//
// Two drafters:
//   - DraftModelDrafter: a second, smaller model with the same vocabulary (e.g. Qwen3-0.6B for
//     Qwen3-8B), decoding greedily through its own cache;
//   - MtpDrafter: the target's own next-token-prediction layer (DeepSeek-V3 / GLM-4.5 MTP, see
//     models/mtp.h), fed the target's last hidden states.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kernels/thread_pool.h"
#include "runtime/model.h"

namespace dragon {

class MtpModel;

// What the target model computed in one forward pass, for drafters that read its hidden states.
struct TargetStep {
  int64_t first_position = 0;       // position of the batch's first row
  const Activations* hidden = nullptr;  // [rows, hidden] final hidden states before the output norm
};

class Drafter {
 public:
  virtual ~Drafter() = default;
  // Up to `k` greedy guesses for the tokens after `committed` (prompt + accepted output; its last
  // token has not been through the target yet). May return fewer.
  virtual std::vector<int32_t> propose(const std::vector<int32_t>& committed, int64_t k) = 0;
  // Called after every target forward (the prompt, then each verification) with its hidden states,
  // before the accepted tokens are known. Drafters that do not need them ignore it.
  virtual void observe(const TargetStep& step) { (void)step; }
  // True if observe() needs the target's hidden states (the target must then be an MtpModel).
  virtual bool wants_hidden() const { return false; }
};

// A second model drafting greedily. Its cache holds the tokens it has processed; before each
// proposal the longest prefix of them that is still committed is kept and the rest re-fed.
class DraftModelDrafter final : public Drafter {
 public:
  // `cache` must hold as many positions as the target's cache.
  DraftModelDrafter(Model& draft, KVCache& cache, ThreadPool& pool);
  std::vector<int32_t> propose(const std::vector<int32_t>& committed, int64_t k) override;

 private:
  Model& model_;
  KVCache& cache_;
  ThreadPool& pool_;
  std::vector<int32_t> fed_;  // the token at each cached position
};

// The target's MTP layer drafting: the MTP entry at position i reads the target's hidden state
// h_i and the embedding of token t_{i+1}, and predicts t_{i+2}. Chained drafts (k > 1) feed the
// MTP layer's own output hidden state in place of the target's, as vLLM does.
class MtpDrafter final : public Drafter {
 public:
  // `cache` is a one-layer cache built from MtpModel::mtp_cache_config(), as long as the target's.
  MtpDrafter(MtpModel& model, KVCache& cache, ThreadPool& pool);
  std::vector<int32_t> propose(const std::vector<int32_t>& committed, int64_t k) override;
  void observe(const TargetStep& step) override;
  bool wants_hidden() const override { return true; }

 private:
  MtpModel& model_;
  KVCache& cache_;
  ThreadPool& pool_;
  int64_t valid_ = 0;           // MTP cache positions [0, valid_) were computed from real hidden states
  int64_t hidden_first_ = 0;    // position of hidden_'s first row
  Activations hidden_;          // the target's hidden states of its last forward
};

struct SpeculativeStats {
  int64_t target_forwards = 0;  // verification passes (the prompt not counted)
  int64_t drafted = 0;          // draft tokens proposed
  int64_t accepted = 0;         // draft tokens the target agreed with
  double acceptance() const { return drafted ? static_cast<double>(accepted) / drafted : 0.0; }
  // Generated tokens per verification pass (1 = no gain over plain decoding).
  double tokens_per_forward(int64_t generated) const {
    return target_forwards ? static_cast<double>(generated - 1) / target_forwards : 0.0;
  }
};

// Prefills the prompt, then speculative greedy steps of up to `k` drafts each until `n` tokens.
// The result equals generate_greedy(target, prompt, n, ...). `cache` as for generate_greedy
// (prompt + n - 1 positions suffice: drafts never run past the last token asked for).
std::vector<int32_t> generate_speculative(Model& target, const std::vector<int32_t>& prompt, int64_t n, KVCache& cache,
                                          ThreadPool& pool, Drafter& drafter, int64_t k,
                                          SpeculativeStats* stats = nullptr);

// A drafter with the KV cache it drafts into (the drafters only hold references).
struct OwnedDrafter {
  std::unique_ptr<KVCache> cache;
  std::unique_ptr<Drafter> drafter;
};
OwnedDrafter make_draft_model_drafter(Model& draft, int64_t n_ctx, CacheType type, ThreadPool& pool);
// Fails with a clear message if `target` has no MTP layer.
OwnedDrafter make_mtp_drafter(Model& target, int64_t n_ctx, CacheType type, ThreadPool& pool);

// `dragon bench --draft-model / --speculative`: greedy decoding of n_gen tokens after an n_prompt
// token prompt, plain and speculative, each timed from the prompt to the last token (fresh caches
// every repetition, one untimed warm-up of each first).
struct SpeculativeBench {
  std::vector<double> plain_tokens_per_s, speculative_tokens_per_s;  // generated tokens / s, per repetition
  SpeculativeStats stats;  // of the last repetition
  bool identical = true;   // every speculative run printed the plain run's ids
};
SpeculativeBench bench_speculative(Model& target, const std::function<OwnedDrafter(int64_t n_ctx)>& make_drafter,
                                   int64_t n_prompt, int64_t n_gen, int64_t k, int reps, CacheType type,
                                   ThreadPool& pool);

class Tokenizer;
// Fails with a clear message unless the draft model can draft for the target: the same
// vocabulary size and, when both tokenizers are given, the same spelling of every id.
void check_draft_compatible(const ModelConfig& target, const ModelConfig& draft, const Tokenizer* target_tokenizer,
                            const Tokenizer* draft_tokenizer);

}  // namespace dragon
