#!/usr/bin/env python3
"""file_loops.py - find files that call each other in a loop inside a module.

For every module (static library kf_<module>), read the defined and the
undefined symbols of each object file with nm, draw an edge a -> b when a.o
uses a symbol b.o defines, and report every cycle (strongly connected
component of more than one file) with the symbols on its edges. A module
reads top-down when it has none: orchestration calls helpers, never back.

usage: file_loops.py BUILD_DIR MODULE...   (exit 1 when a loop is found)
"""
import collections
import glob
import os
import subprocess
import sys


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDRBC":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
    return defined, used


def sccs(nodes, edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    build, modules = sys.argv[1], sys.argv[2:]
    bad = 0
    for mod in modules:
        objs = sorted(glob.glob(os.path.join(build, "CMakeFiles", f"kf_{mod}.dir", "src", mod, "*.o")))
        if not objs:
            print(f"{mod}: no object files under {build} (build first)", file=sys.stderr)
            return 2
        syms = {os.path.basename(o)[:-4]: symbols(o) for o in objs}
        edges, why = collections.defaultdict(set), {}
        for a, (_, used) in syms.items():
            for b, (defined, _) in syms.items():
                common = used & defined
                if a != b and common:
                    edges[a].add(b)
                    why[(a, b)] = sorted(common)
        for comp in sccs(list(syms), edges):
            if len(comp) < 2:
                continue
            bad += 1
            print(f"{mod}: files in a loop: {', '.join(c + '.c' for c in comp)}")
            for a in comp:
                for b in sorted(edges[a] & set(comp)):
                    print(f"  {a}.c -> {b}.c: {', '.join(why[(a, b)][:6])}")
        if not any(len(c) > 1 for c in sccs(list(syms), edges)):
            print(f"{mod}: {len(objs)} files, no loops")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
