// Kernel benchmarks (Google Benchmark) at the shapes of ViT-B/16 and Swin-T at
// 224x224. Build target bench_kernels; run ./build/tests/bench/bench_kernels.
// Each fast kernel is timed beside its naive twin where the twin is quick
// enough to time.
#include <benchmark/benchmark.h>

#include <random>

#include "core/activation.h"
#include "core/attention.h"
#include "core/layernorm.h"
#include "core/linear.h"
#include "core/trace.h"
#include "core/window.h"

using namespace vitrace;

namespace {

Tensor random_tensor(Shape shape, uint32_t seed = 1) {
    Tensor t = Tensor::zeros(std::move(shape));
    std::mt19937 gen(seed);
    std::normal_distribution<float> d;
    for (float& v : t.data) v = d(gen);
    return t;
}

void set_flops(benchmark::State& state, double macs) {
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * macs, benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::kIs1000);
}

// The linear layers' shapes: [rows, in] -> [rows, out], as a ViT-B/16 or Swin-T layer
void linear_shapes(benchmark::internal::Benchmark* b) {
    b->Args({197, 768, 2304});   // ViT-B/16 attn.qkv
    b->Args({197, 768, 3072});   // ViT-B/16 mlp.fc1
    b->Args({197, 3072, 768});   // ViT-B/16 mlp.fc2
    b->Args({3136, 96, 288});    // Swin-T stage 0 attn.qkv
    b->Args({3136, 96, 384});    // Swin-T stage 0 mlp.fc1
    b->Args({3136, 384, 96});    // Swin-T stage 0 mlp.fc2
    b->Args({784, 192, 576});    // Swin-T stage 1 attn.qkv
    b->Args({196, 384, 1152});   // Swin-T stage 2 attn.qkv
    b->Args({196, 1536, 384});   // Swin-T stage 2 mlp.fc2
    b->Args({49, 768, 2304});    // Swin-T stage 3 attn.qkv
    b->Args({3136, 48, 96});     // Swin-T patch_embed.proj
    b->Args({1, 768, 1000});     // ViT-B/16 head: 1000 classes, not a whole number of panels
    b->Unit(benchmark::kMillisecond);
}

// linear at one shape, its weight packed ahead (pack_linear, as trace and
// bench run it) or packed on every call (as code that reads the weights
// itself, the lessons, runs it)
void time_linear(benchmark::State& state, bool packed_ahead) {
    const int rows = state.range(0), in = state.range(1), out = state.range(2);
    const Tensor x = random_tensor({rows, in});
    Linear l{random_tensor({out, in}, 2), random_tensor({out}, 3)};
    if (packed_ahead) pack_linear(l);
    Tensor y;
    for (auto _ : state) {
        linear(y, x, l);
        benchmark::DoNotOptimize(y.data.data());
    }
    set_flops(state, (double)rows * in * out);
}
void BM_linear(benchmark::State& state) { time_linear(state, false); }
void BM_linear_packed(benchmark::State& state) { time_linear(state, true); }
BENCHMARK(BM_linear)->Apply(linear_shapes);
BENCHMARK(BM_linear_packed)->Apply(linear_shapes);

void BM_matmul_nt_naive(benchmark::State& state) {
    const int M = state.range(0), N = state.range(1), K = state.range(2);
    const Tensor a = random_tensor({M, K}), b = random_tensor({N, K}, 2);
    std::vector<float> c((size_t)M * N);
    for (auto _ : state) {
        matmul_nt_naive(c.data(), a.ptr(), b.ptr(), M, N, K);
        benchmark::DoNotOptimize(c.data());
    }
    set_flops(state, (double)M * N * K);
}
BENCHMARK(BM_matmul_nt_naive)->Args({197, 768, 2304})->Unit(benchmark::kMillisecond);

void BM_matmul_nt(benchmark::State& state) {
    const int M = state.range(0), N = state.range(1), K = state.range(2);
    const Tensor a = random_tensor({M, K}), b = random_tensor({N, K}, 2);
    std::vector<float> c((size_t)M * N);
    for (auto _ : state) {
        matmul_nt(c.data(), a.ptr(), b.ptr(), M, N, K);
        benchmark::DoNotOptimize(c.data());
    }
    set_flops(state, (double)M * N * K);
}
BENCHMARK(BM_matmul_nt)->Args({197, 768, 2304})->Unit(benchmark::kMillisecond);

// attention: q·kᵀ, softmax and attn·v for [B, heads, T, head_dim]
void BM_attention(benchmark::State& state) {
    const int B = state.range(0), heads = state.range(1), T = state.range(2), hd = state.range(3);
    const Tensor qkvh = random_tensor({3, B, heads, T, hd});
    Tensor scores, out;
    for (auto _ : state) {
        attention_scores(scores, qkvh);
        softmax_rows(scores);
        weighted_sum(out, scores, qkvh);
        benchmark::DoNotOptimize(out.data.data());
    }
    set_flops(state, 2.0 * B * heads * T * T * hd);
}
BENCHMARK(BM_attention)
    ->Args({1, 12, 197, 64})  // ViT-B/16: 12 heads over 197 tokens
    ->Args({64, 3, 49, 32})   // Swin-T stage 0: 64 windows of 7x7, 3 heads
    ->Unit(benchmark::kMillisecond);

void BM_softmax(benchmark::State& state) {
    const Tensor x = random_tensor({state.range(0), state.range(1), state.range(1)});
    Tensor y;
    for (auto _ : state) {
        y = x;
        softmax_rows(y);
        benchmark::DoNotOptimize(y.data.data());
    }
}
BENCHMARK(BM_softmax)->Args({12, 197})->Args({192, 49})->Unit(benchmark::kMicrosecond);

void BM_layernorm(benchmark::State& state) {
    const int rows = state.range(0), C = state.range(1);
    const Tensor x = random_tensor({rows, C});
    const LayerNorm ln{random_tensor({C}, 2), random_tensor({C}, 3), 1e-6f};
    Tensor y;
    for (auto _ : state) {
        layernorm(y, x, ln);
        benchmark::DoNotOptimize(y.data.data());
    }
}
BENCHMARK(BM_layernorm)->Args({197, 768})->Args({3136, 96})->Unit(benchmark::kMicrosecond);

void BM_gelu(benchmark::State& state) {
    const Tensor x = random_tensor({state.range(0), state.range(1)});
    Tensor y;
    for (auto _ : state) {
        gelu(y, x);
        benchmark::DoNotOptimize(y.data.data());
    }
}
BENCHMARK(BM_gelu)->Args({197, 3072})->Args({3136, 384})->Unit(benchmark::kMicrosecond);

void BM_window_partition(benchmark::State& state) {
    const Tensor x = random_tensor({56, 56, 96});  // Swin-T stage 0
    Tensor shifted, windows, back;
    for (auto _ : state) {
        cyclic_shift(shifted, x, -3);
        window_partition(windows, shifted, 7);
        window_reverse(back, windows, 56, 56);
        benchmark::DoNotOptimize(back.data.data());
    }
}
BENCHMARK(BM_window_partition)->Unit(benchmark::kMicrosecond);

void BM_stats(benchmark::State& state) {
    const Tensor x = random_tensor({3136, 384});
    for (auto _ : state) benchmark::DoNotOptimize(compute_stats(x.ptr(), x.numel()));
}
BENCHMARK(BM_stats)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
