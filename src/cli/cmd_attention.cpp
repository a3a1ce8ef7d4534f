// vitrace attention: pictures of where the attention goes, as PNG files.
// The pictures themselves are drawn in pipeline/attention_pictures.cpp, which
// the HTML report uses too.
#include <filesystem>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "io/picture.h"
#include "pipeline/attention_pictures.h"

namespace vitrace::cli {

CLI::App* setup_attention(CLI::App& app, AttentionCommand& o) {
    CLI::App* cmd = app.add_subcommand("attention", "Write pictures of where the attention goes, as PNG files");
    add_model_options(*cmd, o.model, "vit_shapes");
    add_weight_options(*cmd, o.weights);
    add_norm_options(*cmd, o.norm);
    add_memory_options(*cmd, o.memory);
    cmd->add_option("--image", o.image, "PNG or JPEG image")->required();
    cmd->add_option("--out", o.out, "Directory for the pictures (created if missing)")->required();
    cmd->add_option("--layer", o.layer, "ViT block (default: the last) or Swin stage (default: 0)");
    cmd->add_option("--head", o.head, "Only this head (ViT), or this head instead of the mean (Swin)");
    cmd->add_option("--query", o.query,
                    "The query token's ROW,COL in the layer's grid (default: Swin the centre, ViT the cls token)")
        ->delimiter(',');
    return cmd;
}

int run_attention(const AttentionCommand& o) {
    const ModelConfig cfg = resolve_config(o.model, &o.weights);
    const Normalization norm = normalization(o.norm, o.weights);
    const AttentionPictureOptions popts{o.layer, o.head, o.query};
    check_attention_picture_options(cfg, popts);
    TraceOptions topts;
    topts.values = ValuesMode::None;
    topts.full_roles = attention_picture_roles();
    check_memory(cfg, topts, o.memory);
    LoadedModel lm = load_model(cfg, o.weights, Packing::Packed);
    pack_weights(lm.model);  // a checkpoint's: random weights are made packed
    const ImageRun run = run_on_image(lm, o.image, norm, topts);
    if (!lm.weights.trained)
        print_warning(cfg.name + " is untrained (seeded random weights): its attention shows no learned pattern");
    if (!run.top.empty())
        std::printf("%s predicts %s (%.4f)\n", cfg.name.c_str(),
                    run.top[0].label.empty() ? ("class " + std::to_string(run.top[0].index)).c_str()
                                             : run.top[0].label.c_str(),
                    run.top[0].score);
    // The directory is made only after the model has run, so a failed run leaves nothing behind.
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    if (!std::filesystem::is_directory(o.out))
        throw Error(ErrorKind::Output, "output '" + o.out + "': cannot create the directory" +
                                           (ec ? " (" + ec.message() + ")" : std::string()));
    const AttentionPictures drawn = attention_pictures(cfg, run.trace, popts);
    for (const AttentionPicture& p : drawn.pictures) {
        const std::string path = (std::filesystem::path(o.out) / p.file).string();
        write_png(path, p.picture);
        std::printf("%s  %s\n", path.c_str(), p.caption.c_str());
    }
    for (const std::string& note : drawn.notes) std::printf("(%s)\n", note.c_str());
    keep_until_exit(std::move(lm));
    return 0;
}

}  // namespace vitrace::cli
