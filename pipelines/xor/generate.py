#!/usr/bin/env python3
"""generate - the XOR data sets.

Points drawn uniformly at random in [0, 1]^dims; a point's label is the
parity (XOR for two dimensions) of its rounded coordinates. Writes the
train and test sets as CSV (header x1..xd,label).
"""
import argparse
import sys

import xorlib
from xorlib import np


def main(argv):
    ap = argparse.ArgumentParser(prog="generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-train", default="10000")
    ap.add_argument("--n-test", default="1000")
    ap.add_argument("--dims", default="2")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--train-out", required=True)
    ap.add_argument("--test-out", required=True)
    a = ap.parse_args(argv)
    n_train = xorlib.parse_int("n-train", a.n_train, 1, 10_000_000)
    n_test = xorlib.parse_int("n-test", a.n_test, 1, 10_000_000)
    dims = xorlib.parse_int("dims", a.dims, 2, 64)
    seed = xorlib.parse_int("seed", a.seed, 0)
    rng = np.random.default_rng(seed)
    x = rng.random((n_train, dims))
    xt = rng.random((n_test, dims))
    y, yt = xorlib.xor_labels(x), xorlib.xor_labels(xt)
    xorlib.save_dataset(a.train_out, x, y)
    xorlib.save_dataset(a.test_out, xt, yt)
    print("generate: %d train and %d test points in %d dimensions (seed %d); class 1: %.1f%% / %.1f%%"
          % (n_train, n_test, dims, seed, 100 * y.mean(), 100 * yt.mean()))
    return 0


if __name__ == "__main__":
    sys.exit(xorlib.run_main("generate", main, sys.argv[1:]))
