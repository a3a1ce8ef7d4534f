// vitrace inspect: the checkpoint doctor. Which layout a file's names follow
// and why, the config its shapes imply, its parameters and dtypes, how each
// tensor is read, and the command that traces it.
#include <map>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "io/checkpoint.h"
#include "io/checkpoint_config.h"
#include "io/trace_json.h"

namespace vitrace::cli {

CLI::App* setup_inspect(CLI::App& app, InspectCommand& o) {
    CLI::App* cmd = app.add_subcommand("inspect", "Read a checkpoint: its layout, config, parameters and how to trace it");
    cmd->add_option("checkpoint", o.weights, "safetensors file, or a folder with model.safetensors and config.json")
        ->required();
    cmd->add_option("--heads", o.heads, "Attention heads, when neither the file nor a config.json says")
        ->delimiter(',');
    cmd->add_option("--dim-head", o.dim_head, "Channels per head, when neither the file nor a JSON beside it says");
    cmd->add_flag("--json", o.json, "Print JSON: family, layout, config, params, ...");
    return cmd;
}

int run_inspect(const InspectCommand& o) {
    const CheckpointFiles files = find_checkpoint(o.weights);
    const SafetensorsFile file = SafetensorsFile::open(files.weights);
    const CheckpointModel held = model_from_checkpoint(file, files, {o.heads, o.dim_head});
    Model m = make_model(held.config);
    const LayoutUse use = layout_use(m, file, *held.layout);

    std::map<std::string, int64_t> dtypes;  // values per dtype, of the parameters and buffers
    for (const auto& t : file.tensors()) dtypes[dtype_name(t.dtype)] += numel(t.shape);
    const int64_t params = param_count(held.config);
    std::string command = "vitrace trace --weights " + o.weights;
    if (!o.heads.empty()) {
        command += " --heads ";
        for (size_t i = 0; i < o.heads.size(); i++) command += (i ? "," : "") + std::to_string(o.heads[i]);
    }
    if (o.dim_head) command += " --dim-head " + std::to_string(*o.dim_head);
    command += " --image IMAGE.png";

    if (o.json) {
        nlohmann::ordered_json j = {
            {"file", files.weights},
            {"config_json", files.config_path.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(files.config_path)},
            {"family", held.config.family->name},
            {"layout", held.layout->name},
            {"identified_by", held.markers.size() > 3 ? std::vector<std::string>(held.markers.begin(), held.markers.begin() + 3)
                                                      : held.markers},
            {"config", config_json(config_record(held.config))},
            {"params", params},
            {"dtypes", dtypes},
            {"tensors",
             {{"as_is", use.as_is},
              {"renamed", use.renamed},
              {"split", use.split},
              {"concatenated", use.concatenated},
              {"buffers_checked", use.buffers_checked},
              {"ignored", use.ignored}}},
            {"notes", held.notes},
            {"command", command}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("checkpoint  %s (%zu tensors)\n", files.weights.c_str(), file.tensors().size());
    if (!files.config_path.empty()) std::printf("config      %s\n", files.config_path.c_str());
    std::string why;
    for (size_t i = 0; i < held.markers.size() && i < 3; i++) why += (i ? ", " : "") + held.markers[i];
    std::printf("layout      %s (%s): %s, such as %s\n", held.layout->name.c_str(), held.config.family->name.c_str(),
                held.layout->identified_by.c_str(), why.c_str());
    std::printf("config      timm's field names, as a trace's model.config has them\n");
    for (const auto& [key, value] : config_record(held.config)) {
        const std::string text = config_text(value);
        if (!text.empty()) std::printf("  %-16s %s\n", key.c_str(), text.c_str());
    }
    std::string types;
    for (const auto& [name, n] : dtypes) types += (types.empty() ? "" : ", ") + name + " " + human_count((double)n);
    std::printf("parameters  %s (%s)\n", human_count((double)params).c_str(), types.c_str());
    std::printf("read        %d as they are, %d renamed, %d concatenated, %d split; %d buffers checked, %zu ignored\n",
                use.as_is, use.renamed, use.concatenated, use.split, use.buffers_checked, use.ignored.size());
    for (const std::string& n : use.ignored) std::printf("  ignored   %s\n", n.c_str());
    for (const std::string& n : held.notes) std::printf("note        %s\n", n.c_str());
    std::printf("trace it    %s\n", command.c_str());
    return 0;
}

}  // namespace vitrace::cli
