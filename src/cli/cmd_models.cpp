// vitrace models: the built-in configurations.
#include "cli/commands.h"
#include "cli/table.h"

namespace vitrace::cli {

CLI::App* setup_models(CLI::App& app, ModelsCommand&) {
    return app.add_subcommand("models", "List the built-in models");
}

int run_models(const ModelsCommand&) {
    auto list = [](const std::vector<int>& v) {
        std::string s;
        for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
        return s;
    };
    Table t{{"model", "family", "params", "image", "patch", "width", "depth", "heads", "window", "description"},
            {false, false, true, true, true, true, false, false, true, false}, {}};
    for (const ModelConfig& m : builtin_models()) {
        std::vector<std::string> row = {m.name, family_name(m.family), human_count((double)param_count(m)),
                                        std::to_string(m.image_size()), std::to_string(m.patch())};
        if (m.family == Family::ViT) {
            const VitConfig& v = m.vit;
            row.insert(row.end(), {std::to_string(v.width), std::to_string(v.depth), std::to_string(v.heads), "-"});
        } else {
            const SwinConfig& w = m.swin;
            row.insert(row.end(), {std::to_string(w.embed_dim), list(w.depths), list(w.heads), std::to_string(w.window)});
        }
        row.push_back(m.summary);
        t.rows.push_back(std::move(row));
    }
    t.print(stdout);
    return 0;
}

}  // namespace vitrace::cli
