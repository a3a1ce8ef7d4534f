# Writes the C++ file that holds the HTML page's template, style and script,
# and the vitrace sources the page quotes, as byte arrays.
#   cmake -DOUT=file.cpp -DROOT=<repository> -DHTML=.. -DCSS=.. -DSCRIPTS="a.js|b.js" -DSOURCES="src/core/x.cpp|..." -P embed.cmake

string(REPLACE "|" ";" SCRIPTS "${SCRIPTS}")
string(REPLACE "|" ";" SOURCES "${SOURCES}")

function(bytes_of var text_file)
  file(READ "${text_file}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  set(${var} "${hex}" PARENT_SCOPE)
endfunction()

set(out "// Made by src/report/embed.cmake at build time. Do not edit.\n")
string(APPEND out "#include \"report/assets.h\"\n\nnamespace vitrace::report {\n\n")

bytes_of(html "${HTML}")
bytes_of(css "${CSS}")
string(APPEND out "static const unsigned char kHtmlBytes[] = {${html}0};\nstatic const unsigned char kCssBytes[] = {${css}0};\n")

# The scripts, in the order scripts.txt gives, one after the other.
set(js "")
foreach(script IN LISTS SCRIPTS)
  bytes_of(part "${script}")
  string(APPEND js "${part}0x0a,")
endforeach()
string(APPEND out "static const unsigned char kJsBytes[] = {${js}0};\n\n")
string(APPEND out "const char* const kPageHtml = reinterpret_cast<const char*>(kHtmlBytes);\n")
string(APPEND out "const char* const kPageCss = reinterpret_cast<const char*>(kCssBytes);\n")
string(APPEND out "const char* const kPageJs = reinterpret_cast<const char*>(kJsBytes);\n\n")

set(table "")
set(i 0)
foreach(source IN LISTS SOURCES)
  bytes_of(text "${ROOT}/${source}")
  string(APPEND out "static const unsigned char kSource${i}[] = {${text}0};\n")
  string(APPEND table "    {\"${source}\", reinterpret_cast<const char*>(kSource${i})},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND out "\nconst EmbeddedFile kSources[] = {\n${table}};\nconst size_t kSourceCount = ${i};\n\n}  // namespace vitrace::report\n")

file(WRITE "${OUT}.tmp" "${out}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
