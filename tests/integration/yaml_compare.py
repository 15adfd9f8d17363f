#!/usr/bin/python3
"""yaml_compare.py - check kfboot's YAML loader against PyYAML, document by
document, on real files.

For each FILE, runs `yaml2json FILE` (kfboot's loader; prints every
document as one JSON array) and loads the same file with PyYAML, then
compares the two object by object. The first difference is reported by
document index, kind/name and JSON path; the exit status is 1 if any file
differs, 2 on usage or environment errors.

PyYAML is a YAML 1.1 parser, as is go-yaml v2 (what Kubernetes uses through
sigs.k8s.io/yaml). Two loaders are used:

  yaml11  SafeLoader without the timestamp resolver (Kubernetes keeps
          timestamps as strings). This is plain YAML 1.1.
  k8s     yaml11 with go-yaml v2's differences: y/Y/n/N are booleans,
          1e3 and 0788 are floats, 0o17 is octal, underscores anywhere in
          numbers, no sexagesimal (1:20 is a string), "=" is a string,
          and !!binary decodes to text.

Both must agree with kfboot on the files given (they do on the Kubeflow
manifests, where none of the differences occur); `--mode k8s` or
`--mode yaml11` checks only one. Non-string map keys are turned into
strings the way sigs.k8s.io/yaml does (true -> "true", 1 -> "1", floats
as Go's FormatFloat(f, 'g', -1, 32)), and integral floats become integers
(encoding/json writes 1e3 as 1000, which Kubernetes reads as an int64).

Run with /usr/bin/python3 (Debian's python3-yaml).
"""
import argparse
import json
import math
import re
import struct
import subprocess
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - environment problem
    sys.stderr.write("yaml_compare.py: PyYAML is missing; run with /usr/bin/python3 "
                     "(apt-get install python3-yaml)\n")
    sys.exit(2)

BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _without_timestamps(resolvers):
    out = {}
    for first, lst in resolvers.items():
        out[first] = [(tag, rx) for tag, rx in lst
                      if tag != "tag:yaml.org,2002:timestamp"]
    return out


class Yaml11Loader(yaml.SafeLoader):
    """YAML 1.1 (PyYAML's SafeLoader) with timestamps kept as strings."""


Yaml11Loader.yaml_implicit_resolvers = _without_timestamps(
    yaml.SafeLoader.yaml_implicit_resolvers)


class K8sLoader(yaml.SafeLoader):
    """Yaml11Loader adjusted to go-yaml v2's resolve() (see module doc)."""


K8sLoader.yaml_implicit_resolvers = {}
_BOOL = ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
         "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]
_NULL = ["", "~", "null", "Null", "NULL"]
K8sLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile("^(?:" + "|".join(_BOOL) + ")$"), list("yYnNtTfFoO"))
K8sLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null",
    re.compile("^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
K8sLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+."))
K8sLoader.add_implicit_resolver(
    "tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
# Anything else that starts like a number goes to one constructor that runs
# go-yaml's algorithm (ParseInt base 0, ParseUint, YAML-style float, 0b).
K8sLoader.add_implicit_resolver(
    "tag:kfboot,go-number",
    re.compile(r"^[-+0-9.].*$", re.S), list("-+0123456789."))

_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_DOT_FLOAT = re.compile(r"^\.[0-9](_?[0-9])*([eE][-+]?[0-9](_?[0-9])*)?$")


def _go_parse_uint(s, base):
    if not s:
        return None
    if base == 0:
        base = 10
        if s[0] == "0":
            if len(s) >= 3 and s[1] in "bB":
                base, s = 2, s[2:]
            elif len(s) >= 3 and s[1] in "oO":
                base, s = 8, s[2:]
            elif len(s) >= 3 and s[1] in "xX":
                base, s = 16, s[2:]
            else:
                base, s = 8, s[1:]
                if not s:
                    return 0
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:base]
    if not s or any(c not in digits for c in s.lower()):
        return None
    v = int(s, base)
    return v if v < 2 ** 64 else None


def _go_parse_int(s, base):
    neg = False
    if s[:1] in ("+", "-"):
        neg, s = s[0] == "-", s[1:]
    u = _go_parse_uint(s, base)
    if u is None:
        return None
    v = -u if neg else u
    if -2 ** 63 <= v < 2 ** 63:
        return v
    return None


def _go_number(text):
    """go-yaml v2 resolve() for a plain scalar starting with [-+0-9.]."""
    if text[0] == ".":
        if _GO_DOT_FLOAT.match(text):
            v = float(text.replace("_", ""))
            if not math.isinf(v):
                return v
        return text
    plain = text.replace("_", "")
    v = _go_parse_int(plain, 0)
    if v is not None:
        return v
    u = _go_parse_uint(plain, 0)
    if u is not None:
        return float(u)  # beyond int64: Kubernetes reads a float64
    if _FLOAT.match(plain):
        v = float(plain)
        if not math.isinf(v):
            return v
    if plain.startswith("0b"):
        v = _go_parse_int(plain[2:], 2)
        if v is not None:
            return v
        u = _go_parse_uint(plain[2:], 2)
        if u is not None:
            return float(u)
    elif plain.startswith("-0b"):
        u = _go_parse_uint(plain[3:], 2)
        if u is not None and u <= 2 ** 63:
            return -u
    return text


def _construct_go_number(loader, node):
    return _go_number(loader.construct_scalar(node))


def _construct_bool(loader, node):
    return loader.construct_scalar(node) in ("y", "Y", "yes", "Yes", "YES", "true",
                                             "True", "TRUE", "on", "On", "ON")


def _construct_binary(loader, node):
    return yaml.SafeLoader.construct_yaml_binary(loader, node).decode(
        "utf-8", errors="replace")


K8sLoader.add_constructor("tag:kfboot,go-number", _construct_go_number)
K8sLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
K8sLoader.add_constructor("tag:yaml.org,2002:binary", _construct_binary)


def go_float32_key(f):
    """strconv.FormatFloat(f, 'g', -1, 32) with go-yaml's inf/nan names."""
    f32 = struct.unpack("f", struct.pack("f", f))[0] if abs(f) < 3.5e38 else f
    if math.isnan(f32):
        return ".nan"
    if math.isinf(f32) or abs(f) >= 3.5e38:
        return ".inf" if f > 0 else "-.inf"
    if f32 == 0:
        return "-0" if math.copysign(1, f32) < 0 else "0"
    for nd in range(1, 10):
        e = "%.*e" % (nd - 1, f32)
        if struct.unpack("f", struct.pack("f", float(e)))[0] == f32:
            break
    exp = int(e.split("e")[1])
    if exp < -4 or exp >= 6:
        return e
    return "%.*f" % (max(nd - (exp + 1), 0), f32)


def key_string(k):
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int):
        return str(k)
    if isinstance(k, float):
        return go_float32_key(k)
    if isinstance(k, bytes):
        return k.decode("utf-8", errors="replace")
    raise ValueError("unsupported map key %r" % (k,))


def normalize(v):
    """PyYAML value -> the JSON value Kubernetes would see."""
    if isinstance(v, dict):
        return {key_string(k): normalize(x) for k, x in v.items()}
    if isinstance(v, list):
        return [normalize(x) for x in v]
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v):
            raise ValueError("%r cannot be represented in JSON" % v)
        # encoding/json writes an integral float64 as "1000"; Kubernetes
        # reads that back as an int64 when it fits.
        if v == math.trunc(v) and -2 ** 63 <= v < 2 ** 63:
            return int(v)
    return v


def type_name(v):
    return {dict: "object", list: "array", str: "string", bool: "bool",
            int: "int", float: "float", type(None): "null"}.get(type(v), type(v).__name__)


def first_diff(a, b, path="$"):
    """Path and description of the first difference, or None."""
    if type(a) is not type(b):
        return path, "%s %s vs %s %s" % (type_name(a), short(a), type_name(b), short(b))
    if isinstance(a, dict):
        for k in a:
            if k not in b:
                return path, "key %r only in kfboot" % k
        for k in b:
            if k not in a:
                return path, "key %r only in PyYAML" % k
        for k in a:
            d = first_diff(a[k], b[k], "%s.%s" % (path, k) if re.match(r"^[A-Za-z_][\w-]*$", k)
                           else "%s[%s]" % (path, json.dumps(k)))
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return path, "array length %d vs %d" % (len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if a != b:
        return path, "%s vs %s" % (short(a), short(b))
    return None


def short(v):
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + "..."


def ident(doc):
    if isinstance(doc, dict):
        md = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        return "%s/%s" % (doc.get("kind", "?"), md.get("name", "?"))
    return type_name(doc)


def compare_file(tool, path, modes):
    proc = subprocess.run([tool, path], capture_output=True)
    if proc.returncode != 0:
        return ["kfboot cannot load it: %s" % proc.stderr.decode().strip()], 0
    ours = json.loads(proc.stdout)
    with open(path, "rb") as fp:
        text = fp.read()
    problems = []
    for mode in modes:
        loader = K8sLoader if mode == "k8s" else Yaml11Loader
        try:
            theirs = [normalize(d) for d in yaml.load_all(text, Loader=loader)]
        except (yaml.YAMLError, ValueError) as e:
            problems.append("[%s] PyYAML cannot load it: %s" % (mode, e))
            continue
        if len(ours) != len(theirs):
            problems.append("[%s] %d documents vs %d from PyYAML" % (mode, len(ours), len(theirs)))
            continue
        for i, (a, b) in enumerate(zip(ours, theirs)):
            d = first_diff(a, b)
            if d:
                problems.append("[%s] document %d (%s): %s: %s (kfboot vs PyYAML)"
                                % (mode, i, ident(b), d[0], d[1]))
                break
    return problems, len(ours)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", required=True, help="path of yaml2json")
    ap.add_argument("--mode", choices=["both", "k8s", "yaml11"], default="both")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    modes = ["k8s", "yaml11"] if args.mode == "both" else [args.mode]
    failed = 0
    total = 0
    for path in args.files:
        problems, ndocs = compare_file(args.tool, path, modes)
        total += ndocs
        if problems:
            failed += 1
            for p in problems:
                print("FAIL %s: %s" % (path, p))
        else:
            print("ok   %s (%d documents)" % (path, ndocs))
    print("%d files, %d documents, %d files differ" % (len(args.files), total, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
