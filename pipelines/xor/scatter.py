#!/usr/bin/env python3
"""scatter - a scatter plot of the train and test sets (two dimensions only).

With more than two dimensions there is no faithful flat picture of parity:
the component says so and writes nothing.
"""
import argparse
import sys

import xorlib


def main(argv):
    ap = argparse.ArgumentParser(prog="scatter", description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True, help="PNG to write")
    a = ap.parse_args(argv)
    x, y = xorlib.load_dataset(a.train)
    xt, yt = xorlib.load_dataset(a.test)
    dims = x.shape[1]
    if dims != 2:
        print("scatter: skipped: the data has %d dimensions; a scatter plot is drawn only "
              "for 2 (nothing written to %s)" % (dims, a.out))
        return 0
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), sharey=True)
    for ax, (px, py, title) in zip(axes, ((x, y, "train"), (xt, yt, "test"))):
        for cls, colour in ((0, "#1f77b4"), (1, "#d62728")):
            m = py == cls
            ax.scatter(px[m, 0], px[m, 1], s=2 if title == "train" else 6, c=colour,
                       label="class %d" % cls, alpha=0.6, linewidths=0)
        ax.set_title("%s set (%d points)" % (title, len(py)))
        ax.set_xlabel("x1")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
    axes[0].set_ylabel("x2")
    axes[1].legend(loc="upper right", markerscale=4, fontsize=8)
    fig.suptitle("XOR of the rounded coordinates")
    fig.tight_layout()
    xorlib.ensure_parent(a.out)
    fig.savefig(a.out, format="png", dpi=80)
    print("scatter: wrote %s" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(xorlib.run_main("scatter", main, sys.argv[1:]))
