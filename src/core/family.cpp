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
