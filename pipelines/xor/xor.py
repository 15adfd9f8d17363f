#!/usr/bin/env python3
"""xor - the XOR study's component image entry point.

`xor COMPONENT [ARGS...]` runs one component: generate, scatter, train,
evaluate, compare, or trial (generate + train + evaluate in one process,
for a Katib trial). Each component is also a script of its own
(`python3 train.py --help`). In the image this file is /usr/local/bin/xor;
locally `kfboot pipeline run --local` runs it with /usr/bin/python3.
"""
import importlib
import os
import sys

COMPONENTS = ("generate", "scatter", "train", "evaluate", "compare", "trial")


def main(argv):
    if len(argv) < 1 or argv[0] in ("-h", "--help"):
        print("usage: xor {%s} [ARGS...]" % ",".join(COMPONENTS))
        return 0 if argv else 2
    name = argv[0]
    if name not in COMPONENTS:
        print("xor: error: unknown component %r (one of: %s)" % (name, ", ".join(COMPONENTS)),
              file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
    mod = importlib.import_module(name)
    import xorlib
    return xorlib.run_main(name, mod.main, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
