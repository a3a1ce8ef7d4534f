// Lesson 22: Checking an implementation against vitrace (lessons/22-checking.md).
//
// The terminal has no Python, so the lesson checks a "port" it can build from
// vitrace's own flags: vit_shapes with the image normalised by mean = std = 0.5
// instead of its checkpoint's ImageNet mean and std. Both runs are written as
// tensor dumps, read back and compared by diff_traces, as `vitrace diff` does.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "cli/diff_table.h"
#include "cli/lesson.h"
#include "cli/lessons/lesson_extras.h"
#include "io/tensor_dump.h"
#include "io/trace_json.h"
#include "pipeline/diff.h"

namespace vitrace::cli {

namespace {

const std::string kImage = "data/images/ring.png";
const std::string kHalf = "--mean 0.5,0.5,0.5 --std 0.5,0.5,0.5";

// A run written as `vitrace trace --tensors` writes it (lm: the model, for the metadata), then read back as `vitrace diff` reads it.
TraceFile dumped(const LoadedModel& lm, const ImageRun& run, const Normalization& norm, const std::string& path) {
    TensorDumpWriter dump(path);
    for (const Step& s : run.trace.steps()) dump.add(s, Tensor::from(s.shape, s.values));
    const ModelConfig& cfg = lm.model.config;
    dump.finish(model_json(cfg, lm.weights), input_json(kImage, run.image, cfg.image_size(), norm), "vitrace lesson 22");
    return TraceFile::open(path);
}

std::string top1(const ImageRun& r) { return r.top.at(0).label + ", " + fixed(r.top.at(0).score, 4); }

}  // namespace

void lesson_22(Lesson& l) {
    l.say("A port of a ViT (your C++, a phone runtime, a PyTorch model) is checked step by step: both sides write "
          "every intermediate tensor under the same names, and `vitrace diff` names the first step where they part. "
          "The page lessons/22-checking.md does it with a PyTorch model and forward hooks; here, with no Python at "
          "hand, the \"port\" is vitrace itself with one classic mistake in its flags.");

    l.say("The reference: vit_shapes, the trained ViT (64x64 input, 65 tokens, C = 64, 4 blocks), on ring.png, "
          "normalised with ImageNet's mean and std as its checkpoint asks. --tensors writes every step's values "
          "as one safetensors file, named as the steps are:");
    l.command("vitrace trace --model vit_shapes --image " + kImage + " --tensors ref.safetensors");
    const ImageRun& ref = l.run("--model vit_shapes", kImage);
    l.line();

    // How far apart two correct implementations are: float32 sums in another order.
    const Step& x = l.step("pos_embed");  // [N, C]
    const int64_t N = x.shape[0], C = x.shape[1];
    double worst_abs = 0, worst_rel = 0;
    for (int64_t t = 0; t < N; t++) {
        const float* x_t = &x.values[t * C];  // x[t, :], token t
        float forward = 0, backward = 0;
        double magnitude = 0;
        for (int64_t c = 0; c < C; c++) forward += x_t[c], magnitude += std::fabs(x_t[c]);
        for (int64_t c = C; c-- > 0;) backward += x_t[c];
        worst_abs = std::max(worst_abs, (double)std::fabs(forward - backward));
        worst_rel = std::max(worst_rel, std::fabs(forward - backward) / magnitude);
    }
    l.say("First, how close is \"the same\"? Two correct implementations add the same products in different orders "
          "(a BLAS splits a dot product its own way), and float32 rounds every partial sum. Summing each of the " +
          std::to_string(N) + " tokens of the step pos_embed (patch embedding plus position) over its " +
          std::to_string(C) + " channels, first to last and last to first:");
    l.line(labelled("largest |forward - backward|", difference_str(worst_abs), 32));
    l.line(labelled("relative to the sum of |x|", difference_str(worst_rel), 32));
    l.line();
    l.say("Each sum is off by about 1e-7 of its size, here up to 3e-6 absolute, and the steps of a model are "
          "built from such sums; lessons/22-checking.md measures a correct PyTorch port against vitrace at a few "
          "1e-6 per step. A tolerance must stand above that noise and below what a real mistake does; vitrace diff's "
          "default --tol is 1e-4, an absolute difference, for every value of every step.");

    // The "port": the same model and weights, another normalisation.
    const WeightOptions default_weights;
    const LoadedModel port_model = load_model(config_from_flags("--model vit_shapes"), default_weights);
    Normalization half;
    half.mean = half.std = {0.5f, 0.5f, 0.5f};
    TraceOptions full;
    full.values = ValuesMode::Full;
    const ImageRun port = run_on_image(port_model, kImage, half, full);

    l.say("The \"port\": the same model and weights, but its preprocessing normalises with mean = std = 0.5 (the "
          "convention of timm's AugReg ViT checkpoints) where this checkpoint asks for ImageNet's:");
    l.command("vitrace trace --model vit_shapes --image " + kImage + " " + kHalf + " --tensors port.safetensors");
    l.command("vitrace diff ref.safetensors port.safetensors; echo \"exit $?\"");
    l.line();

    const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                      ("vitrace-lesson22-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    DiffResult r;
    try {
        const TraceFile a = dumped(port_model, ref, Normalization{}, (dir / "ref.safetensors").string());
        const TraceFile b = dumped(port_model, port, half, (dir / "port.safetensors").string());
        r = diff_traces(a, b, 1e-4);
    } catch (...) {
        std::filesystem::remove_all(dir);
        throw;
    }
    std::filesystem::remove_all(dir);

    Table t = diff_table();
    const size_t first = *r.first_divergence, shown_until = first + 3;  // then only the last step
    int left_out = 0, left_out_diverging = 0;
    for (size_t i = shown_until; i + 1 < r.steps.size(); i++) left_out++, left_out_diverging += !r.steps[i].within;
    for (size_t i = 0; i < r.steps.size(); i++) {
        if (i >= shown_until && i + 1 < r.steps.size()) continue;
        if (i + 1 == r.steps.size())
            t.notes.push_back({t.rows.size(), "... (" + std::to_string(left_out) + " more steps, " +
                                                  std::to_string(left_out_diverging) + " of them DIVERGES)"});
        t.rows.push_back(diff_row(r, i));
    }
    show_table(l, t);
    const StepDiff& f = r.steps[first];
    l.line(std::to_string(r.compared) + " steps compared with tolerance 0.0001: " + std::to_string(r.diverged) +
           " diverge");
    // vitrace diff prints this on one line; two keep the lesson within 120 columns.
    l.line("first divergence: " + f.name + " (" + f.op + "), max |a-b| " + difference_str(f.max_abs) + ",");
    l.line("  first beyond the tolerance at " + multi_index_str(f.first_beyond, f.dims));
    if (!f.hint.empty()) l.line("hint: " + f.hint);
    l.line();

    l.say("Read it from the top. The decoded, resized and scaled image agree exactly (0): the two read the same "
          "pixels. The first step beyond the tolerance is input.normalize, and every step after it diverges too: "
          "a mistake spreads to all that follows, so only the first divergence says where it is. Its op names the "
          "suspects; here (x - mean) / std with the wrong mean and std.");
    l.line(labelled("reference, top-1", top1(ref), 22));
    l.line(labelled("port, top-1", top1(port), 22));
    l.line();
    l.say("The class alone would not have caught it: vit_shapes saw both normalisations in training, so the port "
          "still says ring. The steps say that its numbers are not the reference's. In a real port, feed the model "
          "the reference's input.normalize, so that preprocessing drops out and the first divergence is in the "
          "model; lessons/22-checking.md shows PyTorch's side, and docs/porting.md a numpy port.");

    l.exercise("Fix the port: give it ImageNet's mean and std explicitly (--mean 0.485,0.456,0.406 --std "
               "0.229,0.224,0.225). How many steps diverge now, even with --tol 1e-30?",
               "vitrace trace --model vit_shapes --image " + kImage +
                   " --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --tensors fixed.safetensors -q && "
                   "vitrace diff ref.safetensors fixed.safetensors --tol 1e-30 | tail -1");
}

}  // namespace vitrace::cli
