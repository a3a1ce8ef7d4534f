// Operations on the token sequence: the cls token, additions, pooling.
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: x = torch.cat((cls_token, x), dim=1); reg_token and dist_token join
// after the cls token, so the tokens go in at row `at`
// out [n + k, C] <- x [n, C], tokens [1, k, C]; out may be x
void insert_tokens(Tensor& out, const Tensor& x, const Tensor& tokens, int64_t at);

// timm: LayerScale, x * gamma
// out [..., C] <- x [..., C], gamma [C]; out may be x
void scale_channels(Tensor& out, const Tensor& x, const Tensor& gamma);

// out = (a + b) / 2, element by element: DeiT's two heads at inference
void average(Tensor& out, const Tensor& a, const Tensor& b);

// The fixed position table of the original Transformer (Vaswani et al., 2017),
// which ViT replaced by a learned pos_embed; kept to compare the two. Channel
// pair (2i, 2i+1) is a sine and a cosine of wavelength 2π·10000^(2i/C):
//   out[pos, 2i]     = sin(pos / 10000^(2i/C))
//   out[pos, 2i + 1] = cos(pos / 10000^(2i/C))
// out [N, C]
void sinusoidal_position_embedding(Tensor& out, int N, int C);

// out = a + b, element by element; b may have a leading 1 that a lacks
// (pos_embed [1, N, C] onto x [N, C]). out may be a.
void add(Tensor& out, const Tensor& a, const Tensor& b);

// timm (global_pool='token'): x[:, 0]
// out [C] <- x [N, C]
void pool_first_token(Tensor& out, const Tensor& x);

// timm (global_pool='avg'): x[:, first:end].mean(dim=1), the mean over tokens
// first..end-1 (end -1: to the last token)
// out [C] <- x [..., C] (every leading axis is a token axis)
void pool_mean(Tensor& out, const Tensor& x, int64_t first, int64_t end = -1);

}  // namespace vitrace
