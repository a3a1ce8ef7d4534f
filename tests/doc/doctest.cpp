// Runs every command shown in a Markdown file and compares what it prints with
// what the file shows.
//
//   doctest --source DIR --bin DIR FILE.md
//
// In ```console blocks, a line starting "$ " is a command; the lines after it,
// up to the next "$ " or the end of the block, are its expected output. A line
// "..." stands for any number of lines left out.
//
// The commands of one file run in order, with bash, in a fresh scratch
// directory holding links to the repository's data/, lessons/, docs/ and tests/ and
// "build" linked to the build directory, so that `build/vitrace` and paths like
// data/images/ring.png work from any build directory, and files the commands
// write do not land in the repository. The build directory is first on PATH,
// so `vitrace` alone runs the binary under test. Standard error is merged into
// standard output, as a terminal shows it.
//
// Comparison, line by line: the text between numbers must be equal (runs of
// spaces count as one, trailing spaces are ignored); each number must agree to
// the digits shown, |actual - shown| <= half a unit of the shown number's last
// digit. Changing any shown digit therefore fails the test.
//
// A command must exit 0 unless its shown output holds "vitrace: error:".
//
// Commands shown inside an output (a lesson's "  $ vitrace ..." lines and the
// command under "Check your answer with:", with their " \\" continuations)
// are run too, after the file's own commands, and must exit 0.
//
// In ```sh blocks every line is a command (a trailing " \\" joins the next
// line; a line that starts with "#" is a comment), run in turn with the console commands and required to exit 0; its
// output is not compared. The set-up steps of such a command, the pieces
// between " && " that are `apt-get`, `cmake` or `ctest` (with or without
// sudo), are checked instead of run: CI runs them on a fresh machine, so each
// `cmake`/`ctest` piece must appear word for word in .ci/run, and each package
// an `apt-get install` names must be one that .ci/run installs. The other
// pieces of the command run. A ```python block runs as one script with
// python3 and must exit 0.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

enum class Kind { Console, Shell, Python };

struct Example {
    int line = 0;  // of the "$ " line in the Markdown file (of the block's first line for sh and python)
    std::string command;
    std::vector<std::string> expected;
    Kind kind = Kind::Console;
};

std::string trimmed(const std::string& s) {
    const auto a = s.find_first_not_of(' ');
    return a == std::string::npos ? "" : s.substr(a);
}

// The commands shown inside the outputs: an indented "$ vitrace ..." line, or
// the line under "Check your answer with:", joined with the lines its
// trailing " \\" continues onto.
std::vector<Example> inner_commands(const std::vector<Example>& examples) {
    std::vector<Example> out;
    for (const Example& ex : examples) {
        const std::vector<std::string>& lines = ex.expected;
        for (size_t i = 0; i < lines.size(); i++) {
            std::string start;
            const std::string t = trimmed(lines[i]);
            if (lines[i].rfind(" ", 0) == 0 && t.rfind("$ vitrace ", 0) == 0) start = t.substr(2);
            if (t == "Check your answer with:" && i + 1 < lines.size() && trimmed(lines[i + 1]).rfind("vitrace ", 0) == 0)
                start = trimmed(lines[++i]);
            if (start.empty()) continue;
            std::string command = start;
            while (command.size() >= 2 && command.compare(command.size() - 2, 2, " \\") == 0 && i + 1 < lines.size())
                command = command.substr(0, command.size() - 1) + trimmed(lines[++i]);
            out.push_back({ex.line, command, {}});
        }
    }
    return out;
}

std::vector<Example> read_examples(const std::string& path) {
    std::ifstream f(path);
    std::vector<Example> out;
    enum { None, Console, Shell, Python, Other } block = None;
    bool continued = false;  // the previous sh line ended in " \\"
    int n = 0;
    for (std::string line; std::getline(f, line);) {
        n++;
        if (block == None) {
            if (line.rfind("```", 0) != 0) continue;
            const std::string lang = trimmed(line.substr(3));
            block = lang == "console" ? Console : lang == "sh" || lang == "bash" ? Shell : lang == "python" ? Python : Other;
            if (block == Python) out.push_back({n + 1, "", {}, Kind::Python});
            continued = false;
            continue;
        }
        if (line.rfind("```", 0) == 0) {
            block = None;
        } else if (block == Console) {
            if (line.rfind("$ ", 0) == 0) out.push_back({n, line.substr(2), {}, Kind::Console});
            else if (!out.empty()) out.back().expected.push_back(line);
        } else if (block == Shell) {
            if (continued) out.back().command += "\n" + line;
            else if (!trimmed(line).empty() && trimmed(line)[0] != '#') out.push_back({n, line, {}, Kind::Shell});
            continued = line.size() >= 2 && line.compare(line.size() - 2, 2, " \\") == 0;
        } else if (block == Python) {
            out.back().command += line + "\n";
        }
    }
    return out;
}

std::vector<std::string> words_of(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// A sh command's pieces between " && ", each with the sudo in front of it removed.
std::vector<std::string> pieces_of(const std::string& command) {
    std::vector<std::string> out;
    size_t at = 0;
    while (true) {
        const size_t next = command.find(" && ", at);
        std::string piece = trimmed(command.substr(at, next == std::string::npos ? std::string::npos : next - at));
        for (const char* sudo : {"$(command -v sudo) ", "sudo "})
            if (piece.rfind(sudo, 0) == 0) piece = piece.substr(std::string(sudo).size());
        out.push_back(piece);
        if (next == std::string::npos) break;
        at = next + 4;
    }
    return out;
}

bool is_setup(const std::string& piece) {
    return piece.rfind("apt-get ", 0) == 0 || piece.rfind("cmake ", 0) == 0 || piece.rfind("ctest ", 0) == 0;
}

// Why a set-up piece is not what .ci/run does, or "".
std::string setup_problem(const std::string& piece, const std::string& ci) {
    if (piece.rfind("apt-get install", 0) == 0) {
        const std::vector<std::string> ci_words = words_of(ci);
        std::string missing;
        for (const std::string& w : words_of(piece.substr(15)))
            if (w[0] != '-' && std::find(ci_words.begin(), ci_words.end(), w) == ci_words.end()) missing += " " + w;
        return missing.empty() ? "" : "packages .ci/run does not install:" + missing;
    }
    if (piece.rfind("apt-get update", 0) == 0) return ci.find("apt-get update") == std::string::npos ? "no apt-get update in .ci/run" : "";
    return ci.find(piece) == std::string::npos ? "not in .ci/run: " + piece : "";
}

struct Result {
    int code = 0;
    std::string output;
};

Result run(const std::string& command, const fs::path& cwd, const std::string& bin) {
    const std::string script = "cd '" + cwd.string() + "' && export PATH='" + bin + "':\"$PATH\" && " + command;
    const std::string full = "bash -c " + [&] {
        std::string q = "'";
        for (char c : script) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q + "'";
    }() + " 2>&1";
    Result r;
    FILE* p = popen(full.c_str(), "r");
    if (!p) return {127, "cannot start bash"};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream s(text);
    for (std::string line; std::getline(s, line);) out.push_back(line);
    return out;
}

// A line cut into text and numbers: "[N=197, C=768]  -0.0254" ->
// texts {"[N=", ", C=", "]  ", ""} and numbers {197, 768, -0.0254}.
struct Tokens {
    std::vector<std::string> texts;
    std::vector<std::string> numbers;
};

Tokens tokenize(const std::string& line) {
    // A number: optional sign, digits, optional fraction, optional exponent, not
    // glued to a letter or underscore on its left (so "blocks.3" and "fc1" stay text).
    static const std::regex number(R"((^|[^A-Za-z0-9_.])([-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)(?![0-9A-Za-z_]))");
    Tokens t;
    std::string rest = line;
    std::smatch m;
    std::string text;
    auto begin = line.cbegin();
    while (std::regex_search(begin, line.cend(), m, number)) {
        text += std::string(begin, m[2].first);
        t.texts.push_back(text);
        text.clear();
        t.numbers.push_back(m[2].str());
        begin = m[2].second;
    }
    text += std::string(begin, line.cend());
    t.texts.push_back(text);
    return t;
}

std::string squeeze(const std::string& s) {
    std::string out;
    bool space = false;
    for (char c : s) {
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        if (space && out.empty()) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

// Half a unit of the last digit shown: "0.2012" -> 0.00005, "197" -> 0.5, "1.5e-3" -> 0.00005.
double half_unit(const std::string& shown) {
    const auto e = shown.find_first_of("eE");
    const std::string mantissa = shown.substr(0, e);
    const int exponent = e == std::string::npos ? 0 : std::stoi(shown.substr(e + 1));
    const auto dot = mantissa.find('.');
    const int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
    return 0.5 * std::pow(10.0, exponent - decimals);
}

bool line_matches(const std::string& actual, const std::string& expected, std::string* why) {
    const Tokens a = tokenize(actual), x = tokenize(expected);
    if (a.numbers.size() != x.numbers.size()) {
        *why = "a different count of numbers";
        return false;
    }
    for (size_t i = 0; i < a.texts.size(); i++) {
        std::string at = squeeze(a.texts[i]), xt = squeeze(x.texts[i]);
        if (i + 1 == a.texts.size()) {  // trailing spaces do not count
            while (!at.empty() && at.back() == ' ') at.pop_back();
            while (!xt.empty() && xt.back() == ' ') xt.pop_back();
        }
        if (at != xt) {
            *why = "text differs: '" + a.texts[i] + "' against '" + x.texts[i] + "'";
            return false;
        }
    }
    for (size_t i = 0; i < a.numbers.size(); i++) {
        const double av = std::stod(a.numbers[i]), xv = std::stod(x.numbers[i]);
        const double tol = half_unit(x.numbers[i]) * (1 + 1e-9);
        if (!(std::fabs(av - xv) <= tol)) {
            *why = "number " + a.numbers[i] + " against " + x.numbers[i] + " (tolerance " + std::to_string(tol) + ")";
            return false;
        }
    }
    return true;
}

// Matches the actual lines against the expected ones, where an expected "..."
// stands for any run of lines. Returns "" or what went wrong.
std::string compare(const std::vector<std::string>& actual, const std::vector<std::string>& expected) {
    // dp[i][j]: actual[i:] matches expected[j:]
    const size_t A = actual.size(), X = expected.size();
    std::vector<std::vector<char>> dp(A + 1, std::vector<char>(X + 1, 0));
    dp[A][X] = 1;
    for (size_t j = X; j-- > 0;)
        if (expected[j] == "...") dp[A][j] = dp[A][j + 1];
    std::string why;
    for (size_t i = A; i-- > 0;) {
        for (size_t j = X; j-- > 0;) {
            if (expected[j] == "...")
                dp[i][j] = dp[i][j + 1] || dp[i + 1][j];
            else
                dp[i][j] = dp[i + 1][j + 1] && line_matches(actual[i], expected[j], &why);
        }
    }
    if (dp[0][0]) return "";
    // Point at the first expected line that cannot be matched in order.
    size_t i = 0;
    for (size_t j = 0; j < X; j++) {
        if (expected[j] == "...") continue;
        bool found = false;
        for (size_t k = i; k < A; k++) {
            if (line_matches(actual[k], expected[j], &why)) {
                i = k + 1;
                found = true;
                break;
            }
        }
        if (!found) {
            std::string near = i < A ? actual[i] : "(end of output)";
            line_matches(near, expected[j], &why);
            return "expected line " + std::to_string(j + 1) + ":\n      " + expected[j] + "\n    nearest actual line:\n      " +
                   near + "\n    (" + why + ")";
        }
    }
    return "the output has lines the file does not show (add them, or a '...' line)";
}

}  // namespace

int main(int argc, char** argv) {
    std::string source, bin, file;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--source" && i + 1 < argc) source = argv[++i];
        else if (a == "--bin" && i + 1 < argc) bin = argv[++i];
        else file = a;
    }
    if (source.empty() || bin.empty() || file.empty()) {
        std::cerr << "usage: doctest --source DIR --bin DIR FILE.md\n";
        return 2;
    }
    const std::vector<Example> examples = read_examples(file);

    char tmpl[] = "/tmp/vitrace-doctest-XXXXXX";
    if (!mkdtemp(tmpl)) return 2;
    const fs::path scratch = tmpl;
    for (const char* d : {"data", "lessons", "docs", "tests"}) fs::create_directory_symlink(fs::absolute(source) / d, scratch / d);
    fs::create_directory_symlink(fs::absolute(bin), scratch / "build");

    std::string ci;
    {
        std::ifstream in(fs::path(source) / ".ci" / "run");
        ci.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    int failures = 0;
    for (const Example& ex : examples) {
        if (ex.kind != Kind::Console) {
            std::string command, problem, checked;
            if (ex.kind == Kind::Python) {
                std::ofstream(scratch / "snippet.py") << ex.command;
                command = "python3 snippet.py";
            } else {
                for (const std::string& piece : pieces_of(ex.command)) {
                    if (!is_setup(piece)) {
                        command += (command.empty() ? "" : " && ") + piece;
                    } else if (const std::string p = setup_problem(piece, ci); !p.empty()) {
                        problem = p;
                    } else {
                        checked += (checked.empty() ? "" : ", ") + piece.substr(0, piece.find(' ', piece.find(' ') + 1));
                    }
                }
            }
            Result r;
            if (problem.empty() && !command.empty()) {
                r = run(command, scratch, fs::absolute(bin).string());
                if (r.code != 0) problem = "exit code " + std::to_string(r.code);
            }
            const std::string shown = ex.kind == Kind::Python ? "(python block)" : ex.command.substr(0, 100);
            if (!problem.empty()) {
                failures++;
                std::cout << file << ":" << ex.line << ": FAILED " << shown << "\n    " << problem << "\n";
                if (!r.output.empty()) std::cout << "    --- actual output ---\n" << r.output << "    ---------------------\n";
            } else {
                std::cout << file << ":" << ex.line << ": ok " << shown
                          << (checked.empty() ? "" : "\n    (checked against .ci/run, which runs them: " + checked + ")")
                          << "\n";
            }
            continue;
        }
        const Result r = run(ex.command, scratch, fs::absolute(bin).string());
        bool shows_error = false;
        for (const auto& l : ex.expected) shows_error |= l.find("vitrace: error:") != std::string::npos;
        std::string problem;
        if (r.code != 0 && !shows_error) problem = "exit code " + std::to_string(r.code);
        if (problem.empty()) problem = compare(lines_of(r.output), ex.expected);
        if (!problem.empty()) {
            failures++;
            std::cout << file << ":" << ex.line << ": FAILED $ " << ex.command << "\n    " << problem << "\n";
            std::cout << "    --- actual output ---\n" << r.output << "    ---------------------\n";
        } else {
            std::cout << file << ":" << ex.line << ": ok $ " << ex.command << "\n";
        }
    }
    // The commands shown inside outputs: each must run.
    const std::vector<Example> inner = inner_commands(examples);
    int inner_failures = 0;
    for (const Example& ex : inner) {
        const Result r = run(ex.command, scratch, fs::absolute(bin).string());
        if (r.code != 0) {
            inner_failures++;
            std::cout << file << ":" << ex.line << ": FAILED (shown in the output) $ " << ex.command << "\n    exit code "
                      << r.code << "\n    --- actual output ---\n" << r.output << "    ---------------------\n";
        } else {
            std::cout << file << ":" << ex.line << ": ok (shown in the output) $ " << ex.command << "\n";
        }
    }
    fs::remove_all(scratch);
    std::cout << examples.size() - failures << " of " << examples.size() << " commands match " << file << "; "
              << inner.size() - inner_failures << " of " << inner.size() << " commands shown in outputs run\n";
    return failures || inner_failures ? 1 : 0;
}
