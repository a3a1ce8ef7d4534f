#!/usr/bin/python3
"""vitrace step by step against PyTorch forward hooks (src/python/vitrace_hooks.py).

    /usr/bin/python3 tests/reference/hooks.py --vitrace build/vitrace --case NAME --workdir DIR
    /usr/bin/python3 tests/reference/hooks.py --list

Each case builds a model in one library's module tree with seeded random
weights, saves them as that library does, draws an S×S PNG and traces it:

    vitrace trace --weights FILE_OR_DIR --image IMG --tensors a.safetensors

The hooks then run the model on the trace's own input.normalize and write
b.safetensors: through the command line for torchvision, through record() for
the others. Every step of b must be a step of a with the same shape, dims and
op, within TOLERANCE (max |a - b|); every step of a but input.* must be in b or
in b's `unseen` list. `vitrace diff a b --tol TOLERANCE --json out.json` must
exit 0, with no first divergence, and give the hooks' reason for each step
they could not see.

  torchvision_vit_b_16, torchvision_swin_t   torchvision's classes at full size
  timm_vit, timm_vit_avg_ls, timm_swin       our PyTorch port of timm (models.py)
  hf_vit, hf_vit_model, hf_swin              Hugging Face's module trees (hf_models.py),
                                             loaded from the files checkpoints.py writes

Exit 0: pass; 1: fail; 77: PyTorch (or, for its cases, torchvision) is not installed.
"""

import dataclasses
import fnmatch
import json
import os
import re
import subprocess
import sys
from typing import Callable

try:
    import numpy as np
    import torch  # noqa: F401 (needed by every case: exit 77 without it)
except ImportError:
    print("hooks: python3-torch is not installed; skipping")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
HOOKS = os.path.join(HERE, "..", "..", "src", "python", "vitrace_hooks.py")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HOOKS))
import checkpoints  # noqa: E402
import hf_models  # noqa: E402
import models  # noqa: E402
import vitrace_hooks  # noqa: E402

TOLERANCE = 1e-4  # max |vitrace - hooks| of any value of any step
METADATA = ("format", "trace_format", "model", "input", "steps", "producer", "unseen")


@dataclasses.dataclass
class Case:
    weights: str                       # vitrace trace --weights
    image: str
    flags: list                        # further vitrace trace flags
    hooks: Callable[[str, str], None]  # (the trace to take the input from, the hooks' dump to write)
    input_from: str = "dump"           # the hooks read input.normalize from vitrace's dump, or its JSON


Failure = checkpoints.Failure


def norm_flags(norm):
    return ["--mean", ",".join(map(str, norm["mean"])), "--std", ",".join(map(str, norm["std"]))]


def no_hooks_left(model):
    left = [name for name, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks]
    if left:
        raise Failure(f"record() left hooks on {left[:4]}")


def api_hooks(model, library, name, restored=lambda: None):
    """The Python API; afterwards the model must be as it was."""
    def run(inp, out):
        vitrace_hooks.dump(model, library, inp, out, name)
        no_hooks_left(model)
        restored()
    return run


def cli_hooks(library, arch, weights):
    def run(inp, out):
        p = subprocess.run([sys.executable, HOOKS, "--library", library, "--arch", arch, "--weights", weights,
                            "--input", inp, "-o", out], capture_output=True, text=True)
        if p.returncode != 0:
            raise Failure(f"vitrace_hooks.py exited {p.returncode}:\n{p.stderr.strip()}")
        if "not seen" not in p.stdout:
            raise Failure(f"vitrace_hooks.py printed no list of the steps it cannot see:\n{p.stdout}")
    return run


# ---------------------------------------------------------------------------
# The cases

def torchvision_case(d, seed, model, arch, S, weights_ext, input_from):
    """torchvision's own class with seeded random weights, saved with torch.save and converted;
    the hooks' command line reads the .pth or the .safetensors."""
    checkpoints.need_torchvision()
    models.randomize(model, checkpoints.generator(seed))
    model.eval()
    weights = checkpoints.torchvision_file(d, model, arch)
    img, _ = checkpoints.image(d, S, seed, checkpoints.IMAGENET)
    hooks_weights = os.path.join(d, f"{arch}.{weights_ext}")
    return Case(weights, img, norm_flags(checkpoints.IMAGENET), cli_hooks("torchvision", arch, hooks_weights),
                input_from)


def case_torchvision_vit_b_16(d, seed):
    import torchvision
    return torchvision_case(d, seed, torchvision.models.vit_b_16(weights=None), "vit_b_16", 224, "pth", "json")


def case_torchvision_swin_t(d, seed):
    import torchvision
    return torchvision_case(d, seed, torchvision.models.swin_t(weights=None), "swin_t", 224, "safetensors", "dump")


def timm_vit_case(d, seed, cfg):
    """The port with fused_attn set, as timm sets it on PyTorch 2: the hooks must switch it off (here,
    on PyTorch 1.13, the fused path would fail outright) and back on."""
    model = checkpoints.port_vit(cfg, seed)
    weights = checkpoints.save(os.path.join(d, "vit.safetensors"), model.state_dict())
    img, _ = checkpoints.image(d, cfg["image_size"], seed, checkpoints.ODD)
    attention = [m for m in model.modules() if hasattr(m, "fused_attn")]
    for m in attention:
        m.fused_attn = True

    def restored():
        if not all(m.fused_attn for m in attention):
            raise Failure("record() did not put fused_attn back")
    return Case(weights, img, norm_flags(checkpoints.ODD), api_hooks(model, "timm", "vit_test", restored))


def case_timm_vit(d, seed):
    return timm_vit_case(d, seed, checkpoints.TIMM_VIT)


def case_timm_vit_avg_ls(d, seed):
    """Mean pooling (fc_norm, no norm) and LayerScale (ls1, ls2)."""
    return timm_vit_case(d, seed, dict(checkpoints.TIMM_VIT, pool="mean", layer_scale=True))


# 16×16 grid, window 4: 16 windows, odd blocks shifted; stage 1's 8×8 grid: 4 windows, shifted too.
TIMM_SWIN = dict(image_size=32, patch=2, embed_dim=16, depths=[2, 2], heads=[2, 4], window=4, mlp_ratio=2.0,
                 classes=5)


def case_timm_swin(d, seed):
    model = models.SwinTransformer(TIMM_SWIN)
    models.randomize(model, checkpoints.generator(seed))
    model.eval()
    weights = checkpoints.save(os.path.join(d, "swin.safetensors"), model.state_dict())
    img, _ = checkpoints.image(d, TIMM_SWIN["image_size"], seed, checkpoints.ODD)
    flags = norm_flags(checkpoints.ODD) + ["--image-size", str(TIMM_SWIN["image_size"])]
    return Case(weights, img, flags, api_hooks(model, "timm", "swin_test"))


def hf_case(d, seed, write_folder, tree_class, name):
    """A Hugging Face folder as checkpoints.py writes it (config.json, model.safetensors); the
    module tree is built from its config.json and loads its model.safetensors with strict=True."""
    run = write_folder(d, seed)[0]
    with open(os.path.join(d, "config.json")) as f:
        config = hf_models.Config(**json.load(f))
    config.num_labels = len(getattr(config, "id2label", {}))
    tree = tree_class(config).eval()
    tree.load_state_dict(vitrace_hooks.read_state_dict(os.path.join(d, "model.safetensors")), strict=True)

    def restored():
        if (config._attn_implementation, config.output_attentions) != ("sdpa", False):
            raise Failure("record() did not put config._attn_implementation and output_attentions back")
    return Case(run.weights, run.image, norm_flags(run.norm), api_hooks(tree, "hf", name, restored))


def case_hf_vit(d, seed):
    """ViTForImageClassification: eps 1e-12, three heads of 16."""
    return hf_case(d, seed, checkpoints.case_hf_vit_classifier, hf_models.ViTForImageClassification, "vit_test")


def case_hf_vit_model(d, seed):
    """ViTModel as save_pretrained writes it: no vit. prefix, a pooler, no classifier."""
    return hf_case(d, seed, checkpoints.case_hf_vit_model, hf_models.ViTModel, "vit_test")


def case_hf_swin(d, seed):
    """SwinForImageClassification: stage 0 shifted (4 windows), stage 1 one window."""
    return hf_case(d, seed, checkpoints.case_hf_swin_classifier, hf_models.SwinForImageClassification, "swin_test")


# ---------------------------------------------------------------------------
# Cases that need no vitrace

def case_tables(d, seed):
    """Every step a table records, and every step UNSEEN names, is a step of docs/trace-format.md
    (the module's catalogue); no library names a step as both. Prints what each library sees."""
    for (library, family), reasons in sorted(vitrace_hooks.UNSEEN.items()):
        catalogue = vitrace_hooks.STEPS[family]
        table = vitrace_hooks.LIBRARIES[library].tables[family]
        seen = {vitrace_hooks.step_kind(re.sub(r"\{\w+\}", "0", h.step or h.module)) for h in table}
        unseen = {name for names, _ in reasons for name in names}
        unknown = sorted((seen | unseen) - set(catalogue))
        if unknown:
            raise Failure(f"{library} {family}: not vitrace steps: {unknown}")
        both = sorted(seen & unseen)
        if both and (library, family) not in BOTH:
            raise Failure(f"{library} {family}: both recorded and listed as unseen: {both}")
        print(f"  {library} {family}: sees {len(seen)} kinds of step, cannot see {len(unseen)}: "
              f"{', '.join(sorted(unseen))}")
    return None


# The steps a library sees in some blocks and not in others (listed as unseen, with the reason).
BOTH = {("timm", "swin"), ("torchvision", "swin")}


def case_cli_errors(d, seed):
    """Bad input gets one line naming the fix, and a non-zero exit."""
    partial = os.path.join(d, "partial.json")
    with open(partial, "w") as f:
        json.dump({"steps": [{"name": "input.normalize", "shape": [3, 4, 4], "values": [0.0] * 8}]}, f)
    no_input = os.path.join(d, "no_input.safetensors")
    vitrace_hooks.write_safetensors(no_input, {"head": np.zeros(3, np.float32)}, {"format": "vitrace.tensors/1"})
    good = os.path.join(d, "input.safetensors")
    vitrace_hooks.write_safetensors(good, {"input.normalize": np.zeros((3, 32, 32), np.float32)}, {})
    for inp, arch, expect in [(partial, "vit_b_16", "--steps input.normalize"), (no_input, "vit_b_16", "--tensors"),
                              (good, "vit_z_99", "vit_z_99"), (good, "vit_b_16", "missing.pth")]:
        p = subprocess.run([sys.executable, HOOKS, "--library", "torchvision", "--arch", arch, "--weights",
                            os.path.join(d, "missing.pth"), "--input", inp, "-o", os.path.join(d, "b.safetensors")],
                           capture_output=True, text=True)
        line = p.stderr.strip()
        if p.returncode == 0 or not line.startswith("vitrace_hooks: error:") or "\n" in line \
                or (expect and expect not in line):
            raise Failure(f"{os.path.basename(inp)}, --arch {arch}: exit {p.returncode}, stderr {line!r}")
        print(f"  {line}")
    return None


# ---------------------------------------------------------------------------
# vitrace's side, and the comparison

def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise Failure(f"`{' '.join(cmd)}` exited {p.returncode}:\n{p.stderr.strip()}")


def trace(vitrace, d, case):
    """vitrace's steps {name: (values, op, dims)}; the file diff reads; the file the hooks take the input from.
    The JSON trace always has input.normalize in full."""
    cmd = [vitrace, "trace", "--weights", case.weights, "--image", case.image, "-q"] + case.flags
    js, dump = os.path.join(d, "a.json"), os.path.join(d, "a.safetensors")
    run(cmd + ["--tensors", dump, "--steps", "input.normalize", "-o", js])
    tensors, metadata = vitrace_hooks.read_safetensors(dump)
    steps = json.loads(metadata["steps"])
    return {s["name"]: (tensors[s["name"]], s["op"], s["dims"]) for s in steps}, dump, \
        (dump if case.input_from == "dump" else js)


def compare(a, b_path):
    """The hooks' dump b against vitrace's steps a; returns the largest difference."""
    b, metadata = vitrace_hooks.read_safetensors(b_path)
    missing = [k for k in METADATA if k not in metadata]
    if missing or metadata["format"] != "vitrace.tensors/1" or metadata["trace_format"] != "vitrace.trace/1":
        raise Failure(f"metadata: missing {missing}, format {metadata.get('format')!r}")
    model, steps = json.loads(metadata["model"]), json.loads(metadata["steps"])
    if not {"name", "family"} <= set(model) or [s["name"] for s in steps] != list(b):
        raise Failure(f"metadata: model {model}, or steps not the tensors in their order")
    worst, worst_name = 0.0, None
    for s in steps:
        name = s["name"]
        if name not in a:
            raise Failure(f"{name}: recorded by the hooks, but vitrace has no such step")
        want, op, dims = a[name]
        got = b[name]
        if list(got.shape) != list(want.shape) or s["dims"] != dims or s["op"] != op:
            raise Failure(f"{name}: vitrace {op} {list(want.shape)} {dims}, hooks {s['op']} {list(got.shape)} "
                          f"{s['dims']}")
        diff = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
        if not diff <= TOLERANCE:
            i = int(np.abs(got.astype(np.float64) - want).reshape(-1).argmax())
            raise Failure(f"{name}: max |vitrace - hooks| = {diff:.3g} > {TOLERANCE:g} at flat index {i}\n"
                          f"    vitrace {want.reshape(-1)[:4]}\n    hooks   {got.reshape(-1)[:4]}")
        if diff >= worst:
            worst, worst_name = diff, name
    unseen = [u["name"] for u in json.loads(metadata["unseen"])]
    silent = [k for k in a if k not in b and not k.startswith("input.") and not any(fnmatch.fnmatch(k, g)
                                                                                    for g in unseen)]
    if silent:
        raise Failure(f"vitrace steps the hooks neither recorded nor list as unseen: {silent[:6]}")
    skipped = sum(1 for k in a if k not in b and not k.startswith("input."))
    print(f"  {len(steps)} steps within {TOLERANCE:g} of vitrace, the largest difference {worst:.3g} "
          f"({worst_name}); {skipped} of vitrace's steps unseen ({metadata['producer']})")
    return worst


def check_diff(vitrace, d, a_path, b_path):
    out = os.path.join(d, "diff.json")
    p = subprocess.run([vitrace, "diff", a_path, b_path, "--tol", str(TOLERANCE), "--json", out],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Failure(f"vitrace diff exited {p.returncode}:\n{p.stdout[-2000:]}{p.stderr.strip()}")
    with open(out) as f:
        report = json.load(f)
    rows = report.get("steps") or []
    if report.get("tolerance") != TOLERANCE or report.get("first_divergence") is not None or not rows:
        raise Failure(f"vitrace diff --json: tolerance {report.get('tolerance')}, first_divergence "
                      f"{report.get('first_divergence')}, {len(rows)} steps")
    bad = [r.get("name") for r in rows if not {"name", "max_abs", "max_rel", "within"} <= set(r)]
    if bad:
        raise Failure(f"vitrace diff --json: steps without name, max_abs, max_rel or within: {bad[:4]}")
    _, metadata = vitrace_hooks.read_safetensors(b_path)
    globs = [u["name"] for u in json.loads(metadata["unseen"])]
    want = sorted(n for n in report["only_in_a"] if any(fnmatch.fnmatch(n, g) for g in globs))
    got = sorted(u["name"] for u in report.get("unseen", []) if u.get("why"))
    if got != want:
        raise Failure(f"vitrace diff --json: unseen {got[:4]}, but the hooks list {want[:4]}")
    print(f"  vitrace diff: exit 0, {len(rows)} steps, no divergence; {len(got)} steps the hooks could not see, "
          f"each with its reason")


def check_case(vitrace, d, case):
    """vitrace, then the hooks on its input, then the comparison; the offline cases checked themselves."""
    if case is None:
        return
    steps, a_path, input_path = trace(vitrace, d, case)
    b_path = os.path.join(d, "b.safetensors")
    case.hooks(input_path, b_path)
    compare(steps, b_path)
    check_diff(vitrace, d, a_path, b_path)


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}

if __name__ == "__main__":
    checkpoints.case_main(__doc__, CASES, check_case, "hooks", ("tables", "cli_errors"))
