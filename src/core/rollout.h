// Attention rollout (Abnar & Zuidema, 2020): how much each input token flows
// into each output token through all the layers, counting the residual path.
//
//   A_l   the layer's attention [heads, N_q, N_k], fused over heads into [N_q, N_k]
//   Â_l = (A_l + I) / 2, then each row divided by its sum
//   R   = Â_L · ... · Â_2 · Â_1                            [N_q, N_k]
//
// Row 0 of R (the cls token's row) says which patches the classification
// draws on.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace vitrace {

enum class HeadFusion { Mean, Max, Min };
const char* head_fusion_name(HeadFusion f);

// fused [N_q, N_k] <- attn [heads, N_q, N_k]: the mean, max or min over the heads
void fuse_heads(Tensor& fused, const Tensor& attn, HeadFusion how);

// rollout [N_q, N_k] <- layers, each [heads, N_q, N_k], first layer first
void attention_rollout(Tensor& rollout, const std::vector<Tensor>& layers, HeadFusion how);

// Mean attention distance (Dosovitskiy et al. 2021, Fig. 7 right): per head,
// the attention-weighted distance in pixels between a patch query's centre and
// its patch keys' centres, the weights renormalised over the patch keys, then
// averaged over the patch queries. The prefix tokens (cls, ...) have no place
// on the grid and are left out as queries and as keys.
//
// distance [heads] <- attn [heads, N_q, N_k], N = prefix + grid*grid, patch_px a patch's side
void mean_attention_distance(std::vector<double>& distance, const Tensor& attn, int64_t prefix, int64_t grid,
                             double patch_px);

// One more layer: rollout [N_q, N_k] <- Â · rollout, where Â is attn [heads, N_q, N_k]
// fused by `how`, plus the identity, rows normalised. An empty rollout starts
// as the identity. For those that see the layers one at a time.
void rollout_step(Tensor& rollout, const Tensor& attn, HeadFusion how);

}  // namespace vitrace
