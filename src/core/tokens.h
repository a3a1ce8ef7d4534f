// Operations on the token sequence: the cls token, additions, pooling.
#pragma once

#include "core/tensor.h"

namespace vitrace {

// timm: x = torch.cat((cls_token, x), dim=1)
// out [1 + n, C] <- cls_token [1, 1, C], x [n, C]
void prepend_cls_token(Tensor& out, const Tensor& x, const Tensor& cls_token);

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
