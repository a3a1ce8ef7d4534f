// Resampling a grid: the antialiased bicubic resize with which timm's
// resample_abs_pos_embed stretches a learned position table to another grid
// (a ViT trained at 224 run at 384: 14×14 patches become 24×24).
//
// Dimension key:
//   C              channels (the embedding width, for a position table)
//   h, w           the input grid
//   out_h, out_w   the output grid
#pragma once

#include "core/tensor.h"

namespace vitrace {

// PyTorch's CPU kernel (UpSampleKernel.cpp, the antialias path), reproduced
// with its float roundings (resample.cpp says where they matter). Separable:
// each row is resized to out_w columns, then each column of that to out_h rows.
// Along an axis of in → out samples, with scale = in / out (float):
//   center_i  = scale · (i + 0.5)                 output sample i, in input pixel units
//   support   = 2 · max(scale, 1)                 a shrink widens the kernel, so it averages
//   window_i  = [max(⌊center_i - support + 0.5⌋, 0), min(⌊center_i + support + 0.5⌋, in))
//   weight_ik = cubic((k + 0.5 - center_i) / max(scale, 1)), then divided by the window's sum
// with cubic Keys' kernel at a = -0.5 (Pillow's choice, which PyTorch copied
// with its rounding, see resample.cpp; bicubic without antialias uses -0.75):
//   cubic(t) = (a + 2)|t|³ - (a + 3)|t|² + 1        |t| < 1
//            = a (|t|³ - 5|t|² + 8|t| - 4)          1 ≤ |t| < 2
//            = 0                                    otherwise
// Same size is an exact copy: the window of i is i-1..i+2 with weights 0, 1, 0, 0.
// out must not be x. Counts no multiply-adds.
// torch: F.interpolate(x[None], size=(out_h, out_w), mode="bicubic", antialias=True, align_corners=False)[0]
// out [C, out_h, out_w] <- x [C, h, w]
void resize_bicubic_antialias(Tensor& out, const Tensor& x, int out_h, int out_w);

}  // namespace vitrace
