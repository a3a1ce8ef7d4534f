// Swin's windows: partition and reverse, the cyclic shift, the relative
// position bias and the shifted-window attention mask.
//
// Dimension key:
//   H, W     the token grid of a stage
//   C        channels
//   M        window side; T = M·M tokens per window ("T"; an attention matrix's axes are T_q and T_k)
//   nW       windows, (H / M) · (W / M), numbered row by row ("windows")
//   heads    attention heads
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: torch.roll(x, shifts=(shift, shift), dims=(1, 2))
// out[(i + shift) mod H, (j + shift) mod W, :] = x[i, j, :]
// The block shifts by -M/2 before attention and by +M/2 after it.
// out [H, W, C] <- x [H, W, C]
void cyclic_shift(Tensor& out, const Tensor& x, int shift);

// timm: window_partition(x, M)
// Window w = (wy, wx) holds the tokens x[wy·M + i, wx·M + j] at t = i·M + j.
// windows [nW, T, C] <- x [H, W, C]
void window_partition(Tensor& windows, const Tensor& x, int M);

// timm: window_reverse(windows, M, H, W), the inverse of window_partition
// x [H, W, C] <- windows [nW, T, C]
void window_reverse(Tensor& x, const Tensor& windows, int H, int W);

// timm: relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
// Token t of a window sits at (t / M, t % M); the offset of token a from token b is
// offsets[a, b, :] = (ya - yb, xa - xb), each in [-(M-1), M-1].
// offsets [T, T, 2] (small integers, exact in float)
void relative_coords(Tensor& offsets, int M);

// timm: get_relative_position_index(M, M)
// For tokens a = (ya, xa) and b = (yb, xb) of one window, their offset
// (ya - yb, xa - xb) lies in [-(M-1), M-1]²; shifted to [0, 2M-2]² it is
// numbered row by row: index[a, b] = (ya - yb + M - 1) · (2M - 1) + (xa - xb + M - 1).
// index [T_q, T_k], values in [0, (2M-1)² - 1] (small integers, exact in float)
void relative_position_index(Tensor& index, int M);

// timm: table[index.view(-1)].view(T, T, heads).permute(2, 0, 1)
// bias[h, a, b] = table[index[a, b], h]
// bias [heads, T_q, T_k] <- table [(2M-1)², heads], index [T_q, T_k]
void relative_position_bias(Tensor& bias, const Tensor& table, const Tensor& index);

// timm: attn = attn + relative_position_bias.unsqueeze(0), in place
// scores [nW, heads, T_q, T_k] += bias [heads, T_q, T_k]
void add_relative_position_bias(Tensor& scores, const Tensor& bias);

// timm: img_mask in SwinTransformerBlock.get_attn_mask
// Labels the shifted H×W grid with 9 regions, cut along each axis at H - M and
// H - shift (W - M and W - shift), numbered 0..8 row by row. The cut at H - shift
// sets apart the tokens the cyclic shift wrapped around from the far side; the
// cut at H - M lies on a window border. So within one window, two tokens carry
// the same label exactly when they were neighbours before the shift.
// labels [H, W], values 0..8
void shifted_window_regions(Tensor& labels, int H, int W, int M, int shift);

// timm: SwinTransformerBlock.get_attn_mask
// After the cyclic shift, tokens of different regions (shifted_window_regions)
// must not attend to each other: mask[w, a, b] = 0 when a and b of window w
// carry the same label, -100 otherwise (a masked pair keeps exp(-100) ≈ 3.7e-44
// of the weight it would have had: nothing, beside the pairs that are allowed).
// mask [nW, T_q, T_k]
void shifted_window_mask(Tensor& mask, int H, int W, int M, int shift);

// scores [nW, heads, T_q, T_k] += mask [nW, T_q, T_k], in place
void add_attention_mask(Tensor& scores, const Tensor& mask);

}  // namespace vitrace
