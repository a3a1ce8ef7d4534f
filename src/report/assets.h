// What the build embeds for the HTML page (src/report/embed.cmake): the
// page's template, style and script from src/report/page/, and the vitrace
// sources whose functions the page shows beside each step.
#pragma once

#include <cstddef>

namespace vitrace::report {

extern const char* const kPageHtml;  // with the placeholders /*@VITRACE_CSS@*/, @VITRACE_DATA@, /*@VITRACE_JS@*/
extern const char* const kPageCss;
extern const char* const kPageJs;

struct EmbeddedFile {
    const char* path;  // from the repository's root: "src/core/vit.cpp"
    const char* text;
};
extern const EmbeddedFile kSources[];
extern const size_t kSourceCount;

}  // namespace vitrace::report
