#include "core/family.h"

#include <algorithm>

#include "core/swin.h"
#include "core/vit.h"

namespace vitrace {

const std::vector<const Family*>& families() {
    static const std::vector<const Family*> all = {
        &vit_family(),
        &swin_family(),
    };
    return all;
}

const Family& family_named(const std::string& name) {
    for (const Family* f : families())
        if (f->name == name) return *f;
    throw Error(ErrorKind::Config, "unknown model family '" + name + "'");
}

Shape need_shape(const ShapeProbe& probe, const std::string& name, const std::string& family) {
    const std::optional<Shape> s = probe(name);
    require(s.has_value(), ErrorKind::Checkpoint, "has no " + name + ", which every " + family + " has");
    return *s;
}

std::pair<int, int> patch_embed_shape(const ShapeProbe& probe, const std::string& family) {
    const Shape proj = need_shape(probe, "patch_embed.proj.weight", family);  // [C, 3, P, P]
    require(proj.size() == 4 && proj[2] == proj[3], ErrorKind::Checkpoint,
            "patch_embed.proj.weight: expected [C, 3, P, P], got " + shape_str(proj));
    return {static_cast<int>(proj[0]), static_cast<int>(proj[2])};
}

namespace {

// "--width,--embed-dim" holds "--embed-dim".
bool spells(const std::string& flags, const std::string& flag) {
    size_t start = 0;
    while (start <= flags.size()) {
        const size_t comma = std::min(flags.find(',', start), flags.size());
        if (flags.compare(start, comma - start, flag) == 0) return true;
        start = comma + 1;
    }
    return false;
}

}  // namespace

const ConfigField* Family::field_by_flag(const std::string& flag) const {
    for (const ConfigField& f : fields)
        if (!f.flag.empty() && (f.flag == flag || spells(f.flag, flag))) return &f;
    return nullptr;
}

const ConfigField* Family::field_by_json(const std::string& json) const {
    for (const ConfigField& f : fields)
        if (!f.json.empty() && f.json == json) return &f;
    return nullptr;
}

}  // namespace vitrace
