// Operations on the token sequence: the cls token, additions, pooling.
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: x = torch.cat((cls_token, x), dim=1)
// out [1 + n, C] <- cls_token [1, 1, C], x [n, C]
void prepend_cls_token(Tensor& out, const Tensor& x, const Tensor& cls_token);

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

// timm (global_pool='avg'): x[:, first:].mean(dim=1), the mean over tokens first..N-1
// out [C] <- x [..., C] (every leading axis is a token axis)
void pool_mean(Tensor& out, const Tensor& x, int64_t first);

}  // namespace vitrace
