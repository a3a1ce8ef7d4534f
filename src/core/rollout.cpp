#include "core/rollout.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/linear.h"

namespace vitrace {

const char* head_fusion_name(HeadFusion f) {
    switch (f) {
        case HeadFusion::Mean: return "mean";
        case HeadFusion::Max: return "max";
        case HeadFusion::Min: return "min";
    }
    return "mean";
}

void fuse_heads(Tensor& fused, const Tensor& attn, HeadFusion how) {
    const int64_t heads = attn.dim(0), NN = attn.dim(1) * attn.dim(2);
    if (!prepare(fused, {attn.dim(1), attn.dim(2)}, attn)) return;
    for (int64_t i = 0; i < NN; i++) {
        float acc = attn[i];  // head 0
        for (int64_t h = 1; h < heads; h++) {
            const float v = attn[h * NN + i];
            acc = how == HeadFusion::Mean ? acc + v : how == HeadFusion::Max ? std::max(acc, v) : std::min(acc, v);
        }
        fused[i] = how == HeadFusion::Mean ? acc / heads : acc;
    }
}

void rollout_step(Tensor& rollout, const Tensor& attn, HeadFusion how) {
    const int64_t N = attn.dim(1);
    if (rollout.data.empty()) {
        // R starts as the identity: before any layer, each token is only itself.
        rollout = Tensor::zeros({N, N});
        for (int64_t i = 0; i < N; i++) rollout[i * N + i] = 1.0f;
    }
    Tensor a, next = Tensor::zeros({N, N});
    fuse_heads(a, attn, how);
    // Â = (A + I) / 2, rows normalised: the residual path keeps half of each token
    for (int64_t i = 0; i < N; i++) {
        float* a_i = &a[i * N];  // a[i, :]
        a_i[i] += 1.0f;
        float sum = 0;
        for (int64_t j = 0; j < N; j++) sum += a_i[j];
        for (int64_t j = 0; j < N; j++) a_i[j] /= sum;  // the 1/2 cancels in the normalisation
    }
    // R <- Â · R
    matmul_nn(next.ptr(), a.ptr(), rollout.ptr(), (int)N, (int)N, (int)N);
    std::swap(rollout, next);
}

void attention_rollout(Tensor& rollout, const std::vector<Tensor>& layers, HeadFusion how) {
    rollout = Tensor();
    for (const Tensor& attn : layers) rollout_step(rollout, attn, how);
}

void mean_attention_distance(std::vector<double>& distance, const Tensor& attn, int64_t prefix, int64_t grid,
                             double patch_px) {
    const int64_t heads = attn.dim(0), N = attn.dim(1), g = grid, n = g * g, P = prefix;
    // Distance between patch centres depends only on |dy| and |dx|.
    std::vector<double> dist((size_t)n);
    for (int64_t dy = 0; dy < g; dy++)
        for (int64_t dx = 0; dx < g; dx++) dist[dy * g + dx] = patch_px * std::sqrt((double)(dy * dy + dx * dx));
    distance.assign((size_t)heads, 0.0);
    for (int64_t h = 0; h < heads; h++) {
        double sum = 0;
        for (int64_t q = P; q < N; q++) {
            const float* a_q = &attn[(h * N + q) * N];  // attn[h, q, :]
            const int64_t qy = (q - P) / g, qx = (q - P) % g;
            double weighted = 0, mass = 0;
            for (int64_t k = P; k < N; k++) {
                const int64_t ky = (k - P) / g, kx = (k - P) % g;
                weighted += a_q[k] * dist[std::abs(qy - ky) * g + std::abs(qx - kx)];
                mass += a_q[k];
            }
            sum += mass > 0 ? weighted / mass : 0;
        }
        distance[(size_t)h] = n ? sum / (double)n : 0;
    }
}

}  // namespace vitrace
