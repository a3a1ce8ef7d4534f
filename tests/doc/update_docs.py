#!/usr/bin/env python3
"""Rewrites the output shown in Markdown files after vitrace's output changed.

    tests/doc/update_docs.py --bin build FILE.md...

For a maintainer, not for the tests: the doc tests (tests/doc/doctest.cpp)
still decide what passes. Each ```console example runs as the doc tests run it
(bash, in a scratch directory with data/, lessons/, docs/ and build/ linked,
standard error merged). Where its output no longer matches what the file
shows, the shown lines are aligned with the new ones on their text (numbers
left out), and:
  - lines that still correspond are replaced by the new lines;
  - new lines between two shown lines are added;
  - a "..." line stays, standing for what it stood for before.
Read the diff before committing: an update is a claim about the output.
"""
import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile

NUMBER = re.compile(r"(^|[^A-Za-z0-9_.])([-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)(?![0-9A-Za-z_])")


def skeleton(line):
    """The line's text with every number as '#' and runs of spaces as one."""
    text = NUMBER.sub(lambda m: m.group(1) + "#", line)
    return " ".join(text.split())


def examples(lines):
    """(index of the '$ ' line, index after its last output line) per example."""
    out, in_console = [], False
    for i, line in enumerate(lines):
        if not in_console:
            in_console = line.startswith("```console")
            continue
        if line.startswith("```"):
            if out and out[-1][1] is None:
                out[-1][1] = i
            in_console = False
        elif line.startswith("$ "):
            if out and out[-1][1] is None:
                out[-1][1] = i
            out.append([i, None])
    return out


def run(command, scratch, bin_dir):
    script = f"cd '{scratch}' && export PATH='{bin_dir}':\"$PATH\" && {command}"
    r = subprocess.run(["bash", "-c", script + " 2>&1"], capture_output=True, text=True)
    return r.stdout.splitlines()


def numbers_match(a, x):
    """The doc tests' rule: same text, each number within half a unit of its shown last digit."""
    if skeleton(a) != skeleton(x):
        return False
    an = [m.group(2) for m in NUMBER.finditer(a)]
    xn = [m.group(2) for m in NUMBER.finditer(x)]
    if len(an) != len(xn):
        return False
    for av, xv in zip(an, xn):
        mant, _, exp = xv.lower().partition("e")
        decimals = len(mant.split(".")[1]) if "." in mant else 0
        if abs(float(av) - float(xv)) > 0.5 * 10 ** (int(exp or 0) - decimals) * (1 + 1e-9):
            return False
    return True


def updated(expected, actual):
    """The new shown output: an alignment of the shown lines with the new ones
    at the least cost, where a "..." takes any run of lines for free, a shown
    line that still matches costs 0, one whose text is close costs 1 (and is
    replaced), a new line costs 1 (and is added), and a shown line that is gone
    costs 2 (and is dropped)."""
    X, A = len(expected), len(actual)
    INF = float("inf")
    close = {}

    def similar(i, j):
        if (i, j) not in close:
            close[(i, j)] = difflib.SequenceMatcher(None, skeleton(actual[i]), skeleton(expected[j])).ratio() > 0.6
        return close[(i, j)]

    # cost[j][i]: the cheapest way to show actual[i:] with expected[j:]
    cost = [[INF] * (A + 1) for _ in range(X + 1)]
    move = [[None] * (A + 1) for _ in range(X + 1)]
    cost[X][A] = 0
    for j in range(X, -1, -1):
        for i in range(A, -1, -1):
            if j == X and i == A:
                continue
            best, how = INF, None
            if j < X and expected[j] == "...":
                if cost[j + 1][i] < best:
                    best, how = cost[j + 1][i], "skip-ellipsis"
                if i < A and cost[j][i + 1] < best:
                    best, how = cost[j][i + 1], "absorb"
            else:
                if j < X and i < A:
                    if numbers_match(actual[i], expected[j]) and cost[j + 1][i + 1] < best:
                        best, how = cost[j + 1][i + 1], "keep"
                    elif similar(i, j) and cost[j + 1][i + 1] + 1 < best:
                        best, how = cost[j + 1][i + 1] + 1, "replace"
                if i < A and cost[j][i + 1] + 1 < best:
                    best, how = cost[j][i + 1] + 1, "insert"
                if j < X and cost[j + 1][i] + 2 < best:
                    best, how = cost[j + 1][i] + 2, "drop"
            cost[j][i], move[j][i] = best, how
    out, i, j = [], 0, 0
    while (j, i) != (X, A):
        how = move[j][i]
        if how == "skip-ellipsis":
            out.append("...")
            j += 1
        elif how == "absorb":
            i += 1
        elif how == "keep":
            out.append(actual[i])  # the same within the shown digits, spaced as printed
            i, j = i + 1, j + 1
        elif how == "replace":
            out.append(actual[i])
            i, j = i + 1, j + 1
        elif how == "insert":
            out.append(actual[i])
            i += 1
        else:  # drop
            j += 1
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="the build directory that holds vitrace")
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    source = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    bin_dir = os.path.abspath(a.bin)
    doc_python = os.path.join(bin_dir, "tests", "doc_python")
    if os.path.isdir(doc_python):
        bin_dir = bin_dir + ":" + doc_python
    for path in a.files:
        lines = open(path).read().split("\n")
        with tempfile.TemporaryDirectory(prefix="vitrace-update-docs-") as scratch:
            for d in ("data", "lessons", "docs"):
                os.symlink(os.path.join(source, d), os.path.join(scratch, d))
            os.symlink(os.path.abspath(a.bin), os.path.join(scratch, "build"))
            # The commands run in order (one may read what another wrote); the
            # shown lines are replaced afterwards, last first.
            replacements = []
            for start, end in examples(lines):
                expected = lines[start + 1:end]
                actual = run(lines[start][2:], scratch, bin_dir)
                new = [l.rstrip() for l in updated(expected, actual)]
                if new != [l.rstrip() for l in expected]:
                    replacements.append((start, end, new))
            for start, end, new in reversed(replacements):
                lines[start + 1:end] = new
            changed = len(replacements)
        open(path, "w").write("\n".join(lines))
        print(f"{path}: {changed} example(s) updated", file=sys.stderr)


if __name__ == "__main__":
    main()
