#include "models/mla_decompressed.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/attention.h"
#include "kernels/attention_prompt.h"
#include "kernels/matmul.h"
#include "tensor/dequantize.h"
#include "tensor/half.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

// Rows 0 .. n_ctx-1 of a sequence's latent cache as f32 [n_ctx, kv_lora + rope].
Activations read_latent_rows(const KVSpan& span, int64_t n_ctx, int64_t width) {
  Activations rows(n_ctx, width);
  const size_t bytes = span.type == CacheType::F16 ? 2 : 4;
  for (int64_t p = 0; p < n_ctx; ++p) {
    const uint8_t* src = static_cast<const uint8_t*>(span.k) + span.row_offset(p, span.k_stride) * bytes;
    float* dst = rows.row(p);
    if (span.type == CacheType::F32) {
      std::memcpy(dst, src, width * sizeof(float));
    } else {
      for (int64_t i = 0; i < width; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = f16_to_f32(h);
      }
    }
  }
  return rows;
}

// attn_k_b holds W_UK_h^T [kv_lora, nope]; the expansion needs W_UK_h [nope, kv_lora] as a
// matmul weight, so head h is dequantized and transposed here (kv_lora * nope floats, small
// beside the expansion itself).
Activations w_uk(const TensorView& k_b_h) {
  const int64_t lora = k_b_h.shape[0], nope = k_b_h.shape[1];
  const uint64_t row_bytes = k_b_h.nbytes / static_cast<uint64_t>(lora);
  std::vector<float> row(nope);
  Activations t(nope, lora);
  for (int64_t i = 0; i < lora; ++i) {
    dequantize_row(k_b_h.dtype, k_b_h.data + row_bytes * i, row.data(), nope);
    for (int64_t j = 0; j < nope; ++j) t.row(j)[i] = row[j];
  }
  return t;
}

TensorView f32_view(const Activations& a, const std::string& name) {
  TensorView v;
  v.name = name;
  v.dtype = DType::F32;
  v.shape = {a.rows, a.cols};
  v.data = reinterpret_cast<const uint8_t*>(a.data.data());
  v.nbytes = a.data.size() * sizeof(float);
  return v;
}

}  // namespace

MlaForm mla_form_for(const ModelConfig& c, int64_t n_tokens, int64_t n_cached) {
  const char* forced = std::getenv("DRAGON_MLA_PREFILL");
  const std::string f = forced ? forced : "auto";
  if (f == "absorbed") return MlaForm::Absorbed;
  if (f == "decompressed") return MlaForm::Decompressed;
  if (f != "auto") fail("DRAGON_MLA_PREFILL={}: expected auto, absorbed or decompressed", f);
  if (n_tokens < kMlaDecompressMinTokens) return MlaForm::Absorbed;
  // Per head, both forms pay (nope + v) * kv_lora MACs for each new token (absorbed: moving its
  // query in and its output out of latent space; decompressed: expanding its row); the
  // decompressed form also expands the n_cached older rows, and saves
  // (2 kv_lora + rope) - (nope + rope + v) MACs per (query, attended position). A chunk after a
  // long cached prefix (a follow-up chat turn) can lose: keep it absorbed then.
  const double lora = static_cast<double>(c.kv_lora_rank);
  const double expand = (c.qk_nope_head_dim + c.v_head_dim) * lora;
  const double saved = 2 * lora - c.qk_nope_head_dim - c.v_head_dim;
  const double m = static_cast<double>(n_tokens), p = static_cast<double>(n_cached);
  return p * expand <= m * (p + m / 2) * saved ? MlaForm::Decompressed : MlaForm::Absorbed;
}

void mla_attend_decompressed(const ModelConfig& c, const MlaWeights& w, const Activations& q, const Batch& batch,
                             const std::vector<int64_t>& tokens, const KVCache& cache, int64_t layer, float scale,
                             Activations& attn, ThreadPool& pool) {
  const int64_t H = c.n_heads, nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim;
  const int64_t lora = c.kv_lora_rank, vd = c.v_head_dim, qk = nope + rope;
  const int seq = batch.seq_ids[tokens.front()];
  int64_t n_ctx = 0;
  for (int64_t t : tokens) n_ctx = std::max(n_ctx, batch.positions[t] + 1);

  const Activations rows = read_latent_rows(cache.latent_span(layer, seq), n_ctx, lora + rope);
  Activations latent(n_ctx, lora);
  for (int64_t p = 0; p < n_ctx; ++p) std::copy_n(rows.row(p), lora, latent.row(p));

  pool.parallel_for(H, [&](int64_t begin, int64_t end) {
    ThreadPool serial(1);  // heads are the parallel dimension here
    for (int64_t h = begin; h < end; ++h) {
      const Activations uk = w_uk(w.k_b[h]);
      Activations k_nope, v;
      matmul(latent, f32_view(uk, w.k_b[h].name + "^T"), k_nope, serial);
      matmul(latent, w.v_b[h], v, serial);
      Activations k(n_ctx, qk);
      for (int64_t p = 0; p < n_ctx; ++p) {
        std::copy_n(k_nope.row(p), nope, k.row(p));
        std::copy_n(rows.row(p) + lora, rope, k.row(p) + nope);
      }
      KVSpan span;
      span.k = k.data.data();
      span.v = v.data.data();
      span.k_stride = qk;
      span.v_stride = vd;
      span.type = CacheType::F32;
      // Runs of consecutive batch tokens go through the blocked prompt kernel (each K / V row read
      // once per block of up to kPromptMaxRows queries); short runs token by token.
      const bool blocked = prompt_attention_enabled();
      for (size_t i = 0, e = 0; i < tokens.size(); i = e) {
        e = i + 1;
        while (blocked && e < tokens.size() && static_cast<int64_t>(e - i) < kPromptMaxRows &&
               tokens[e] == tokens[e - 1] + 1 && batch.positions[tokens[e]] > batch.positions[tokens[e - 1]])
          ++e;
        if (e - i >= 8) {
          PromptQueryBlock b;
          b.q = q.row(tokens[i]) + h * qk;
          b.q_stride = q.cols;
          b.positions = batch.positions.data() + tokens[i];
          b.n = static_cast<int64_t>(e - i);
          b.out = attn.row(tokens[i]) + h * vd;
          b.out_stride = attn.cols;
          attend_prompt_block(b, 1, span, qk, vd, scale);
          continue;
        }
        for (size_t j = i; j < e; ++j) {
          const int64_t t = tokens[j];
          attend_group(q.row(t) + h * qk, 1, span, batch.positions[t] + 1, qk, vd, scale, attn.row(t) + h * vd);
        }
      }
    }
  });
}

}  // namespace dragon::blocks
