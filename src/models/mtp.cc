#include "models/mtp.h"

#include <algorithm>

#include "kernels/matmul.h"
#include "models/arch_moe.h"
#include "util/error.h"

namespace dragon::blocks {

MtpHeadWeights load_mtp_head(const Weights& w, const Weights& main, const ModelConfig& c, int64_t il) {
  const std::string p = "blk." + std::to_string(il) + ".nextn.";
  MtpHeadWeights m;
  m.embed = w.find(p + "embed_tokens.weight");
  if (!m.embed) m.embed = &main.get("token_embd.weight");
  m.enorm = w.f32(p + "enorm.weight", c.hidden_size);
  m.hnorm = w.f32(p + "hnorm.weight", c.hidden_size);
  m.eh_proj = load_linear(w, p + "eh_proj", c.hidden_size, 2 * c.hidden_size, false);
  m.head_norm = w.find(p + "shared_head_norm.weight") ? w.f32(p + "shared_head_norm.weight", c.hidden_size)
                                                       : main.f32("output_norm.weight", c.hidden_size);
  m.head = w.find(p + "shared_head_head.weight");
  if (!m.head) m.head = main.find("output.weight");
  if (!m.head) m.head = &main.get("token_embd.weight");  // tied
  for (const TensorView* t : {m.embed, m.head})
    if (t->shape != std::vector<int64_t>{c.vocab_size, c.hidden_size})
      fail("tensor {} has shape {}, expected [{}, {}]", t->name, shape_string(t->shape), c.vocab_size, c.hidden_size);
  return m;
}

ModelConfig mtp_cache_config(const ModelConfig& main) {
  ModelConfig one = main;
  one.n_layers = 1;
  one.n_nextn_layers = 0;
  return one;
}

Activations mtp_input(const MtpHeadWeights& m, const Activations& hidden, const Batch& batch, double eps,
                      ThreadPool& pool) {
  if (hidden.rows != batch.size()) fail("MTP: {} hidden states for a batch of {} tokens", hidden.rows, batch.size());
  Activations e;
  embedding_rows(*m.embed, batch.tokens, e);
  const Activations en = rms_norm(e, m.enorm, eps), hn = rms_norm(hidden, m.hnorm, eps);
  Activations both(batch.size(), en.cols + hn.cols);
  for (int64_t t = 0; t < batch.size(); ++t) {
    std::copy_n(en.row(t), en.cols, both.row(t));
    std::copy_n(hn.row(t), hn.cols, both.row(t) + en.cols);
  }
  return linear(both, m.eh_proj, pool);
}

Activations mtp_logits(const MtpHeadWeights& m, const Activations& x, const Batch& batch, double eps,
                       ThreadPool& pool) {
  Activations picked(batch.n_outputs(), x.cols);
  for (int64_t t = 0, r = 0; t < batch.size(); ++t)
    if (batch.want_logits[t]) std::copy_n(x.row(t), x.cols, picked.row(r++));
  Activations logits;
  matmul(rms_norm(picked, m.head_norm, eps), *m.head, logits, pool);
  return logits;
}

std::unique_ptr<Weights> load_hf_mtp_weights(const OpenedModel& opened, const Weights& main) {
  const ModelConfig& c = opened.config;
  if (opened.format != ModelFormat::HF || c.n_nextn_layers <= 0 || !opened.spec) return nullptr;
  if (main.find("blk." + std::to_string(c.n_layers) + ".nextn.eh_proj.weight")) return nullptr;
  // The family's own plans for a stack that includes the MTP layers, keeping only theirs, plus
  // the nextn extras. A view of the opened model with these plans goes through Weights' usual
  // conversion (renames stay views into the safetensors maps, FP8 is converted).
  ModelConfig whole = c;
  whole.n_layers = c.n_layers + c.n_nextn_layers;
  whole.n_nextn_layers = 0;
  std::vector<GGUFTensorPlan> plans;
  for (GGUFTensorPlan& plan : opened.spec->gguf_tensors(whole)) {
    const size_t dot = plan.name.find('.', 4);
    if (plan.name.rfind("blk.", 0) == 0 && dot != std::string::npos &&
        std::stoll(plan.name.substr(4, dot - 4)) >= c.n_layers)
      plans.push_back(std::move(plan));
  }
  for (int64_t il = c.n_layers; il < whole.n_layers; ++il) arch::plan_nextn_extras(plans, c, il);
  ArchSpec spec = *opened.spec;
  spec.gguf_tensors = [plans](const ModelConfig&) { return plans; };
  OpenedModel view;
  view.format = ModelFormat::HF;
  view.path = opened.path;
  view.config = c;
  view.spec = &spec;
  view.tensors = opened.tensors;  // views into the maps `opened` owns
  return std::make_unique<Weights>(view);
}

}  // namespace dragon::blocks
