// Multi-head self-attention, one step per function.
//
// Dimension key (ViT names; Swin's windows are one more leading axis, written B):
//   B         leading batch axes: none for ViT, [nW] windows for Swin
//   T         tokens attending to each other: N for ViT, M·M inside a Swin window
//   C         channels (embedding width); C = heads · head_dim
//   heads     attention heads
//   head_dim  channels per head
//
// The steps, in timm's order:
//   qkv [B, T, 3C] --split_heads--> [3, B, heads, T, head_dim]     (q, k, v)
//   scores = q·kᵀ                   [B, heads, T, T]
//   scores *= head_dim^-0.5
//   softmax over the last axis      [B, heads, T, T]  (each row sums to 1)
//   weighted sum attn·v             [B, heads, T, head_dim]
//   merge_heads                     [B, T, C]
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: qkv.reshape(B, T, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
// out [3, B, heads, T, head_dim] <- qkv [B, T, 3C]
void split_heads(Tensor& out, const Tensor& qkv, int heads);

// timm: attn = q @ k.transpose(-2, -1)
// scores [B, heads, T, T] <- qkvh [3, B, heads, T, head_dim]
void attention_scores(Tensor& scores, const Tensor& qkvh);

// timm: attn = attn * scale   (scale = head_dim^-0.5), in place
void scale_scores(Tensor& scores, float scale);

// timm: attn = attn.softmax(dim=-1), in place over the last axis.
// softmax_rows takes its exponentials from exp_fast (core/fastmath.h);
// softmax_rows_naive, its reference twin, from std::exp.
void softmax_rows(Tensor& x);
void softmax_rows_naive(Tensor& x);

// timm: x = attn @ v
// out [B, heads, T, head_dim] <- attn [B, heads, T, T], qkvh [3, B, heads, T, head_dim]
void weighted_sum(Tensor& out, const Tensor& attn, const Tensor& qkvh);

// timm: x.transpose(1, 2).reshape(B, T, C)
// out [B, T, C] <- o [B, heads, T, head_dim]
void merge_heads(Tensor& out, const Tensor& o);

}  // namespace vitrace
