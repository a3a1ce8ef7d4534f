// Lesson 6: into heads, the reshape and the transpose (lessons/06-heads.md).
// Source to read: src/core/attention.cpp, split_heads.
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "cli/table.h"

namespace vitrace::cli {

void lesson_06(Lesson& l) {
    l.say("The qkv projection gives one row of 3C numbers per token: q, k and v side by side, and within "
          "each of them the heads side by side. Multi-head attention needs them apart: for each head its "
          "own q, k and v, each [N, head_dim]. timm gets there with one reshape and one transpose:");
    l.line("  qkv [N, 3C] --reshape--> [N, 3, heads, head_dim] --permute(1, 2, 0, 3)--> [3, heads, N, head_dim]");
    l.line();
    l.say("Nothing is computed: every number only moves. Written as indexes, with C = heads * head_dim:");
    l.line("  out[s, h, t, d] = qkv[t, s*C + h*head_dim + d]     s = 0 for q, 1 for k, 2 for v");
    l.line();
    l.command(trace_command("blocks.0.attn.qkv,blocks.0.attn.split_heads"));
    l.run(kSmallVit);
    l.line();

    const Step& qkv = l.step("blocks.0.attn.qkv");
    const Step& heads = l.step("blocks.0.attn.split_heads");
    const int H = (int)heads.shape[1], N = (int)heads.shape[2], hd = (int)heads.shape[3], C = H * hd;
    l.say("Here N = " + std::to_string(N) + " tokens, C = " + std::to_string(C) + ", heads = " + std::to_string(H) +
          ", head_dim = " + std::to_string(hd) + ", so 3C = " + std::to_string(3 * C) + " columns:");
    l.show("blocks.0.attn.qkv");
    l.show("blocks.0.attn.split_heads", 4);

    // Three entries followed through the formula, with the real values.
    l.say("Three entries, found by the formula:");
    const int picks[3][4] = {{0, 1, 2, 3}, {1, 1, 2, 0}, {2, 0, 4, 1}};  // s, h, n, d
    const char* names[3] = {"q", "k", "v"};
    for (const auto& p : picks) {
        const int s = p[0], h = p[1], n = p[2], d = p[3];
        const int col = s * C + h * hd + d;
        const float from_split = heads.values[((s * H + h) * N + n) * hd + d];
        const float from_qkv = qkv.values[n * 3 * C + col];
        l.line("  " + std::string(names[s]) + " of head " + std::to_string(h) + ", token " + std::to_string(n) +
               ", dim " + std::to_string(d) + ": split_heads[" + std::to_string(s) + ", " + std::to_string(h) + ", " +
               std::to_string(n) + ", " + std::to_string(d) + "] = " + fixed(from_split) + " = qkv[" +
               std::to_string(n) + ", " + std::to_string(s) + "*" + std::to_string(C) + " + " + std::to_string(h) + "*" +
               std::to_string(hd) + " + " +
               std::to_string(d) + "] = qkv[" + std::to_string(n) + ", " + std::to_string(col) + "] = " +
               fixed(from_qkv));
    }
    l.line();
    l.say("The heads are independent because each owns its slice of the channels: head h reads only "
          "columns h*head_dim to (h+1)*head_dim - 1 of q, of k and of v, and until merge_heads no product "
          "mixes two slices (attn.proj, after it, is where the heads meet). "
          "The transpose computes nothing and changes no head's numbers: it makes head h's q one contiguous "
          "[N, head_dim] block, so q*k^T for that head is an ordinary matrix product over memory in order.");

    l.exercise("Which column of qkv holds v for head 0, dim 3? Compute s*C + h*head_dim + d, then find the "
               "same numbers in split_heads under qkv=2, heads=0, head_dim=3.",
               trace_command("blocks.0.attn.qkv,blocks.0.attn.split_heads"));
}

}  // namespace vitrace::cli
