#include "models/mla.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "models/mla_decompressed.h"
#include "tensor/half.h"
#include "util/error.h"

namespace dragon::blocks {

namespace {

// Head h of a 3-D weight [n_heads, rows, cols] as a 2-D [rows, cols] view (no copy).
TensorView head_slice(const TensorView& t, int64_t h) {
  TensorView v;
  v.name = fmt::format("{}[head {}]", t.name, h);
  v.dtype = t.dtype;
  v.shape = {t.shape[1], t.shape[2]};
  const uint64_t bytes = dtype_row_bytes(t.dtype, t.shape[2]) * static_cast<uint64_t>(t.shape[1]);
  v.data = t.data + bytes * h;
  v.nbytes = bytes;
  return v;
}

std::vector<TensorView> head_slices(const Weights& w, const std::string& name, std::vector<int64_t> shape) {
  const TensorView& t = w.get(name);
  if (t.shape != shape) fail("tensor {} has shape {}, expected {}", name, shape_string(t.shape), shape_string(shape));
  std::vector<TensorView> out;
  for (int64_t h = 0; h < shape[0]; ++h) out.push_back(head_slice(t, h));
  return out;
}

// The rope of the decoupled key / query dims: qk_rope_head_dim-wide heads, all rotated.
ModelConfig rope_part_config(const ModelConfig& c) {
  ModelConfig r = c;
  r.head_dim = c.qk_rope_head_dim;
  r.rotary_dim = c.qk_rope_head_dim;
  r.rope_interleaved = true;  // HF de-interleaves before rotate_half: adjacent pairs
  return r;
}

// Columns [offset, offset + width) of each of x's `n_heads` heads of `head_width`, as [rows, n_heads * width].
Activations gather_heads(const Activations& x, int64_t n_heads, int64_t head_width, int64_t offset, int64_t width) {
  Activations out(x.rows, n_heads * width);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t h = 0; h < n_heads; ++h)
      std::copy_n(x.row(t) + h * head_width + offset, width, out.row(t) + h * width);
  return out;
}

// The first `width` values of the rows at `positions` of a latent span, as f32 [positions, width].
Activations gather_latent_rows(const KVSpan& span, const std::vector<int64_t>& positions, int64_t width) {
  Activations rows(static_cast<int64_t>(positions.size()), width);
  for (size_t i = 0; i < positions.size(); ++i) {
    const int64_t offset = span.row_offset(positions[i], span.k_stride);
    float* dst = rows.row(static_cast<int64_t>(i));
    if (span.type == CacheType::F32) {
      std::copy_n(static_cast<const float*>(span.k) + offset, width, dst);
    } else {
      const uint16_t* src = static_cast<const uint16_t*>(span.k) + offset;
      for (int64_t j = 0; j < width; ++j) dst[j] = f16_to_f32(src[j]);
    }
  }
  return rows;
}

// log sum_p exp(scale q . row_p) over the first n_pos latent rows of a span (width floats each),
// in double: the normaliser a sink logit is compared with.
double latent_logsumexp(const float* q, const KVSpan& span, int64_t n_pos, int64_t width, float scale,
                        std::vector<double>& scores) {
  scores.resize(static_cast<size_t>(n_pos));
  double max_score = -INFINITY;
  for (int64_t p = 0; p < n_pos; ++p) {
    const int64_t offset = span.row_offset(p, span.k_stride);
    double dot = 0.0;
    if (span.type == CacheType::F32) {
      const float* k = static_cast<const float*>(span.k) + offset;
      for (int64_t j = 0; j < width; ++j) dot += static_cast<double>(q[j]) * k[j];
    } else {
      const uint16_t* k = static_cast<const uint16_t*>(span.k) + offset;
      for (int64_t j = 0; j < width; ++j) dot += static_cast<double>(q[j]) * f16_to_f32(k[j]);
    }
    scores[p] = dot * scale;
    max_score = std::max(max_score, scores[p]);
  }
  double sum = 0.0;
  for (int64_t p = 0; p < n_pos; ++p) sum += std::exp(scores[p] - max_score);
  return max_score + std::log(sum);
}

// o_proj of the heads' outputs, after Kimi-K3's and Hy4's sigmoid output gate (read from the attention
// input x) when the layer has one.
Activations output_projection(const Activations& x, Activations& attn, const MlaWeights& w, ThreadPool& pool) {
  if (w.gate.weight) {
    const Activations g = linear(x, w.gate, pool);
    for (size_t i = 0; i < attn.data.size(); ++i) attn.data[i] *= 1.0f / (1.0f + std::exp(-g.data[i]));
  }
  return linear(attn, w.o, pool);
}

}  // namespace

float mla_softmax_scale(const ModelConfig& c) {
  double scale = 1.0 / std::sqrt(static_cast<double>(c.qk_nope_head_dim + c.qk_rope_head_dim));
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == "yarn" && rs.mscale_all_dim != 0.0 && rs.factor > 1.0) {
    const double mscale = 0.1 * rs.mscale_all_dim * std::log(rs.factor) + 1.0;
    scale *= mscale * mscale;
  }
  return static_cast<float>(scale);
}

MlaWeights load_mla(const Weights& w, const ModelConfig& c, int64_t il) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t H = c.n_heads, qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
  MlaWeights m;
  m.norm = w.f32(p + "attn_norm.weight", c.hidden_size);
  if (c.q_lora_rank > 0) {
    m.q_a = load_linear(w, p + "attn_q_a", c.q_lora_rank, c.hidden_size, false);
    m.q_a_norm = w.f32(p + "attn_q_a_norm.weight", c.q_lora_rank);
    m.q_b = load_linear(w, p + "attn_q_b", H * qk, c.q_lora_rank, false);
  } else {
    m.q = load_linear(w, p + "attn_q", H * qk, c.hidden_size, false);
  }
  m.kv_a = load_linear(w, p + "attn_kv_a_mqa", c.kv_lora_rank + c.qk_rope_head_dim, c.hidden_size, false);
  m.kv_a_norm = w.f32(p + "attn_kv_a_norm.weight", c.kv_lora_rank);
  m.k_b = head_slices(w, p + "attn_k_b.weight", {H, c.kv_lora_rank, c.qk_nope_head_dim});
  m.v_b = head_slices(w, p + "attn_v_b.weight", {H, c.v_head_dim, c.kv_lora_rank});
  m.o = load_linear(w, p + "attn_output", c.hidden_size, H * c.v_head_dim, false);
  // The MTP layer (il >= n_layers) attends densely, as llama.cpp's graph_mtp does.
  if (c.is_dsa() && il < c.n_layers) m.indexer = load_dsa_indexer(w, c, il);
  if (c.attention_sinks) m.sinks = w.f32(p + "attn_sinks.weight", H);
  if (c.mla_output_gate || c.attention_output_gate)  // Kimi-K3, Hy4
    m.gate = load_linear(w, p + "attn_gate", H * c.v_head_dim, c.hidden_size, false);
  return m;
}

MlaAttention::MlaAttention(const ModelConfig& c) : c_(c), rope_(rope_part_config(c)), scale_(mla_softmax_scale(c)) {
  if (c.is_dsa()) indexer_ = std::make_unique<DsaIndexer>(c);
}

Activations MlaAttention::forward(const Activations& x, const MlaWeights& w, const Batch& batch, KVCache& cache,
                                  int64_t layer, ThreadPool& pool) const {
  if (!cache.is_latent()) fail("MLA attention needs a latent KV cache");
  const int64_t n = x.rows, H = c_.n_heads, nope = c_.qk_nope_head_dim, rope = c_.qk_rope_head_dim;
  const int64_t lora = c_.kv_lora_rank, vd = c_.v_head_dim, qk = nope + rope, width = lora + rope;

  Activations qr;  // RMSNorm(q_a(x)): the lightning indexer reads it too
  if (!w.q.weight) qr = rms_norm(linear(x, w.q_a, pool), w.q_a_norm, c_.norm_eps);
  const Activations q = w.q.weight ? linear(x, w.q, pool) : linear(qr, w.q_b, pool);
  const bool sparse = w.indexer.present();
  if (sparse && !cache.has_indexer_keys()) fail("DSA attention needs a cache with indexer keys");
  const bool sinks = !w.sinks.empty();
  if (sparse && sinks) fail("MLA with attention sinks and DSA together is not supported");

  // The cache rows: [RMSNorm(latent) | RoPE(k_pe)] (k_pe as it is when c_.mla_nope), then on DSA
  // models the indexer key (zero on the MTP layer, which has no indexer).
  const Activations kv = linear(x, w.kv_a, pool);
  const Activations latent = rms_norm(gather_heads(kv, 1, width, 0, lora), w.kv_a_norm, c_.norm_eps);
  Activations k_pe = gather_heads(kv, 1, width, lora, rope);
  if (!c_.mla_nope) rope_.apply_rows(k_pe, batch.positions);  // Kimi Linear's MLA has no rope
  const Activations index_k = sparse ? indexer_->keys(x, w.indexer, batch, pool) : Activations();
  std::vector<float> row(static_cast<size_t>(cache.latent_width()), 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    std::copy_n(latent.row(t), lora, row.data());
    std::copy_n(k_pe.row(t), rope, row.data() + lora);
    if (sparse) std::copy_n(index_k.row(t), c_.index_head_dim, row.data() + width);
    cache.store_latent(layer, batch.seq_ids[t], batch.positions[t], row.data());
  }
  // DSA: the positions each token attends to (empty: all of them).
  const std::vector<std::vector<int64_t>> selected =
      sparse ? indexer_->select(x, qr, w.indexer, batch, cache, layer, pool) : std::vector<std::vector<int64_t>>();

  Activations q_pe = gather_heads(q, H, qk, nope, rope);
  if (!c_.mla_nope) rope_.apply_rows(q_pe, batch.positions);

  // Each sequence's tokens take the form mla_form_for picks by their number (decode: absorbed).
  std::map<int, std::vector<int64_t>> by_seq;
  for (int64_t t = 0; t < n; ++t) by_seq[batch.seq_ids[t]].push_back(t);
  Activations attn(n, H * vd);
  std::vector<int64_t> absorbed;
  Activations q_rot;  // [q_nope | RoPE(q_pe)] per head, for the decompressed form
  for (const auto& [seq, tokens] : by_seq) {
    int64_t first = batch.positions[tokens.front()];
    for (int64_t t : tokens) first = std::min(first, batch.positions[t]);
    if (sparse || sinks || mla_form_for(c_, static_cast<int64_t>(tokens.size()), first) == MlaForm::Absorbed) {
      absorbed.insert(absorbed.end(), tokens.begin(), tokens.end());
      continue;
    }
    if (q_rot.rows == 0) {
      q_rot = q;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < H; ++h) std::copy_n(q_pe.row(t) + h * rope, rope, q_rot.row(t) + h * qk + nope);
    }
    mla_attend_decompressed(c_, w, q_rot, batch, tokens, cache, layer, scale_, attn, pool);
  }
  if (absorbed.empty()) return output_projection(x, attn, w, pool);
  const int64_t m = static_cast<int64_t>(absorbed.size());

  // Absorbed queries, per head [q_nope W_UK_h (kv_lora) | RoPE(q_pe) (rope)], row i = token absorbed[i].
  Activations q_abs(m, H * width);
  pool.parallel_for(H, [&](int64_t begin, int64_t end) {
    ThreadPool serial(1);  // heads are the parallel dimension here
    for (int64_t h = begin; h < end; ++h) {
      Activations q_nope(m, nope), q_lat;
      for (int64_t i = 0; i < m; ++i) std::copy_n(q.row(absorbed[i]) + h * qk, nope, q_nope.row(i));
      matmul(q_nope, w.k_b[h], q_lat, serial);
      for (int64_t i = 0; i < m; ++i) {
        std::copy_n(q_lat.row(i), lora, q_abs.row(i) + h * width);
        std::copy_n(q_pe.row(absorbed[i]) + h * rope, rope, q_abs.row(i) + h * width + lora);
      }
    }
  });

  // Every head attends over the shared latent rows: keys are whole rows, values their latent part.
  Activations o_lat(m, H * lora);
  std::vector<int64_t> dense, sparse_rows;  // indices into `absorbed`
  for (int64_t i = 0; i < m; ++i) (sparse && !selected[absorbed[i]].empty() ? sparse_rows : dense).push_back(i);
  pool.parallel_for(static_cast<int64_t>(dense.size()) * H, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    std::vector<double> sink_scores;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = dense[item / H], h = item % H, t = absorbed[i];
      const KVSpan span = cache.latent_span(layer, batch.seq_ids[t]);
      float* out = o_lat.row(i) + h * lora;
      attend_head(q_abs.row(i) + h * width, span, batch.positions[t] + 1, width, lora, scale_, out, scores);
      if (sinks) {
        const double lse =
            latent_logsumexp(q_abs.row(i) + h * width, span, batch.positions[t] + 1, width, scale_, sink_scores);
        const float keep = static_cast<float>(1.0 / (1.0 + std::exp(static_cast<double>(w.sinks[h]) - lse)));
        for (int64_t j = 0; j < lora; ++j) out[j] *= keep;
      }
    }
  });
  // DSA: the selected rows of a token gathered once, then all its heads attend over them.
  pool.parallel_for(static_cast<int64_t>(sparse_rows.size()), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = sparse_rows[item], t = absorbed[i];
      const Activations rows = gather_latent_rows(cache.latent_span(layer, batch.seq_ids[t]), selected[t], width);
      KVSpan span;
      span.k = span.v = rows.data.data();
      span.k_stride = span.v_stride = width;
      attend_group(q_abs.row(i), H, span, rows.rows, width, lora, scale_, o_lat.row(i));
    }
  });

  // Values leave latent space once per head: out_h = W_UV_h o_lat_h.
  pool.parallel_for(H, [&](int64_t begin, int64_t end) {
    ThreadPool serial(1);
    for (int64_t h = begin; h < end; ++h) {
      Activations out_h;
      matmul(gather_heads(o_lat, 1, H * lora, h * lora, lora), w.v_b[h], out_h, serial);
      for (int64_t i = 0; i < m; ++i) std::copy_n(out_h.row(i), vd, attn.row(absorbed[i]) + h * vd);
    }
  });
  return output_projection(x, attn, w, pool);
}

}  // namespace dragon::blocks
