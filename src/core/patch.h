// Patches: cutting the image into patches, and Swin's merging of 2×2 patches.
#pragma once

#include "core/linear.h"
#include "core/tensor.h"

namespace vitrace {

// Cuts the image into non-overlapping P×P patches, row by row, and flattens each
// patch in (channel, row, column) order: the order of a Conv2d weight
// [C, 3, P, P] flattened to [C, 3·P·P]. The patch embedding is then one linear
// layer: Conv2d(3, C, kernel=P, stride=P) is exactly patches · weightᵀ + bias.
// patches [h·w, 3·P·P] <- image [3, H, W], with h = H / P, w = W / P
void patchify(Tensor& patches, const Tensor& image, int P);

// vit-pytorch's patches: Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)').
// The same patches as patchify, each flattened in (row, column, channel)
// order: value (c, ky, kx) of patchify's patch is value (ky·P + kx)·3 + c here.
// patches [h·w, P·P·3] <- image [3, H, W]
void patchify_hwc(Tensor& patches, const Tensor& image, int P);

// A convolution's input patches (im2col), for kernel k, stride s and zero
// padding pad on each side, each flattened in (channel, row, column) order,
// the order of a Conv2d weight [out, in, k, k]; the convolution is then
// patches · weightᵀ. With k = s = P and pad 0 on an image this is patchify.
// Output side: (side + 2·pad - k) / s + 1, rounded down.
// out [oh·ow, in·k·k] <- x [in, H, W] (channels_last false: an image) or [H, W, in] (channels_last true)
void conv_patches(Tensor& out, const Tensor& x, bool channels_last, int k, int s, int pad);

// The same patch embedding as the convolution PyTorch runs, kept beside
// patchify + linear to show that the two are one computation: each output is
// the same sum of 3·P·P products plus a bias, visited in another loop order.
// timm: self.proj = nn.Conv2d(3, C, kernel_size=P, stride=P)
// out [C, h, w] <- image [3, H, W], proj.weight [C, 3, P, P], proj.bias [C]
void patch_embed_conv(Tensor& out, const Tensor& image, const Linear& proj, int P);

// Swin's patch merging, the concatenation: each 2×2 group of neighbouring tokens
// becomes one token with 4C channels, in the order
//   x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]   (row offset first)
// out [H/2, W/2, 4C] <- x [H, W, C]
void patch_merge(Tensor& out, const Tensor& x);

// The side of a square grid of n patches (h = w); 0 when n is no square.
int square_side(int64_t n);

}  // namespace vitrace
