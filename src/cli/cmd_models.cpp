// vitrace models: the built-in configurations.
#include "cli/commands.h"
#include "cli/table.h"

namespace vitrace::cli {

CLI::App* setup_models(CLI::App& app, ModelsCommand&) {
    return app.add_subcommand("models", "List the built-in models");
}

int run_models(const ModelsCommand&) {
    Table t{{"model", "family", "params", "image", "patch", "width", "depth", "heads", "description"},
            {false, false, true, true, true, true, false, false, false}, {}};
    for (const ModelConfig& m : builtin_models()) {
        const VitConfig& v = m.vit;
        t.rows.push_back({m.name, family_name(m.family), human_count((double)param_count(m)),
                          std::to_string(v.image_size), std::to_string(v.patch), std::to_string(v.width),
                          std::to_string(v.depth), std::to_string(v.heads), m.summary});
    }
    t.print(stdout);
    return 0;
}

}  // namespace vitrace::cli
