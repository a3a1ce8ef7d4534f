// Multi-head self-attention, one step per function.
//
// Dimension key (ViT names; Swin's windows are one more leading axis, written B):
//   B         leading batch axes: none for ViT, [nW] windows for Swin
//   T         tokens attending to each other: N for ViT, M·M inside a Swin window
//   C         channels (embedding width); C = heads · head_dim
//   inner     heads · head_dim where a model sets head_dim apart from C / heads
//             (vit-pytorch's dim_head): qkv is [B, T, 3·inner] and proj maps inner to C
//   heads     attention heads
//   head_dim  channels per head
//
// The steps, in timm's order (multi_head_attention runs them all):
//   qkv = x·Wᵀ + b                  [B, T, 3C]
//   split_heads                     [3, B, heads, T, head_dim]     (q, k, v)
//   scores = q·kᵀ                   [B, heads, T_q, T_k]
//   scores *= head_dim^-0.5
//   (Swin) + relative position bias, + shifted-window mask
//   softmax over the last axis      [B, heads, T_q, T_k]  (each row sums to 1)
//   weighted sum attn·v             [B, heads, T, head_dim]
//   merge_heads                     [B, T, C]
//   proj                            [B, T, C]
//
// One order differs from timm's: current timm scales q before q·kᵀ
// (`q = q * self.scale; attn = q @ k.transpose(-2, -1)`, or the same inside
// F.scaled_dot_product_attention when fused attention is on); vitrace scales
// the scores after it, as timm's early releases did. Both give
// q·kᵀ/√head_dim up to float rounding (the parity tests hold them within
// their tolerance), and this order lets the trace show the raw scores and the
// scaled ones as two steps.
#pragma once

#include <string>
#include <vector>

#include "core/linear.h"
#include "core/step.h"
#include "core/tensor.h"
#include "core/trace.h"

namespace vitrace {

// timm: qkv.reshape(B, T, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
// out [3, B, heads, T, head_dim] <- qkv [B, T, 3C]
void split_heads(Tensor& out, const Tensor& qkv, int heads);

// timm: attn = q @ k.transpose(-2, -1)
// scores [B, heads, T_q, T_k] <- qkvh [3, B, heads, T, head_dim]
void attention_scores(Tensor& scores, const Tensor& qkvh);

// scores *= scale (scale = head_dim^-0.5), in place. timm scales q instead:
// q = q * self.scale, before q @ k.transpose(-2, -1) (see above).
void scale_scores(Tensor& scores, float scale);

// timm: attn = attn.softmax(dim=-1), in place over the last axis.
// softmax_rows takes its exponentials from exp_fast (core/fastmath.h);
// softmax_rows_naive, its reference twin, from std::exp.
void softmax_rows(Tensor& x);
void softmax_rows_naive(Tensor& x);

// timm: x = attn @ v
// out [B, heads, T, head_dim] <- attn [B, heads, T_q, T_k], qkvh [3, B, heads, T, head_dim]
void weighted_sum(Tensor& out, const Tensor& attn, const Tensor& qkvh);

// timm: x.transpose(1, 2).reshape(B, T, C)
// out [B, T, C] <- o [B, heads, T, head_dim]
void merge_heads(Tensor& out, const Tensor& o);

// Swin's additions to attention. timm: WindowAttention
struct WindowAttention {
    const Tensor* bias_table = nullptr;  // relative_position_bias_table [(2M-1)², heads]
    int H = 0, W = 0;                    // the stage's token grid
    int M = 0;                           // window side
    int shift = 0;                       // the block's cyclic shift; > 0 adds the shifted-window mask
};

// The names of the axes before the channels: ViT's x is [N, C], Swin's
// windows are [windows, T, C]. An attention matrix names its query and key
// axes apart: [heads, N_q, N_k], [windows, heads, T_q, T_k].
struct TokenAxes {
    std::vector<std::string> lead;  // {} or {"windows"}
    std::string tokens;             // "N" or "T"
};

// Buffers of one attention, reused from one block to the next.
struct AttentionBuffers {
    Tensor qkv;     // [B, T, 3C]
    Tensor qkvh;    // [3, B, heads, T, head_dim]
    Tensor attn;    // [B, heads, T_q, T_k]
    Tensor index;   // [T_q, T_k]            Swin
    Tensor bias;    // [heads, T_q, T_k]     Swin
    Tensor mask;    // [nW, T_q, T_k]        Swin, shifted blocks
    Tensor o;       // [B, heads, T, head_dim]
    Tensor merged;  // [B, T, C]
};

// timm: Attention.forward (ViT) and WindowAttention.forward (Swin), every
// step recorded in the scope `at` (blocks.i.attn.*, layers.s.blocks.b.attn.*).
// out [B, T, C] <- x [B, T, C]; window is null for global attention. A proj
// with no weight (shape {}) is left out, and out is the merged heads.
void multi_head_attention(Tensor& out, const Tensor& x, const Linear& qkv, const Linear& proj, int heads,
                          const WindowAttention* window, const TokenAxes& axes, const StepScope& at,
                          AttentionBuffers& t, Trace& trace);

}  // namespace vitrace
