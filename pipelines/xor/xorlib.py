"""xorlib - shared pieces of the XOR study's components.

The data sets (CSV with a header: x1..xd,label), the model file format
kfboot.io/mlp-v1 (a small JSON multilayer perceptron that kfboot-predict
loads; see docs/xor.md), the forward pass, and full-batch gradient descent
for a network with at most one hidden layer. numpy only.
"""
import json
import os
import sys

# The study runs on one core: several BLAS threads only fight over tiny
# matrices (and over the machine with the tasks running beside this one).
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

MODEL_FORMAT = "kfboot.io/mlp-v1"
ACTIVATIONS = ("identity", "tanh", "relu", "sigmoid")


class UsageError(Exception):
    """A bad argument or input file: printed as one line, exit status 2."""


def run_main(prog, fn, argv):
    """Run a component's main: a UsageError is one line and exit status 2."""
    try:
        return fn(argv) or 0
    except UsageError as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        return 2


def parse_int(name, s, lo=None, hi=None):
    try:
        v = int(str(s).strip())
    except ValueError:
        raise UsageError("--%s: %r is not an integer" % (name, s))
    if lo is not None and v < lo:
        raise UsageError("--%s: %d is below %d" % (name, v, lo))
    if hi is not None and v > hi:
        raise UsageError("--%s: %d is above %d" % (name, v, hi))
    return v


def parse_float(name, s, lo=None, hi=None, lo_open=False):
    try:
        v = float(str(s).strip())
    except ValueError:
        raise UsageError("--%s: %r is not a number" % (name, s))
    if not np.isfinite(v):
        raise UsageError("--%s: %r is not finite" % (name, s))
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise UsageError("--%s: %g must be %s %g" % (name, v, ">" if lo_open else ">=", lo))
    if hi is not None and v > hi:
        raise UsageError("--%s: %g is above %g" % (name, v, hi))
    return v


def ensure_parent(path):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)


def write_text(path, text):
    """Write a file whole (temporary file + rename)."""
    ensure_parent(path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=1, sort_keys=False) + "\n")


def read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise UsageError("%s %s: %s" % (what, path, e.strerror))
    except ValueError as e:
        raise UsageError("%s %s: not JSON: %s" % (what, path, e))


# ---- data sets ------------------------------------------------------------

def xor_labels(x):
    """Parity of the rounded coordinates (XOR for two dimensions)."""
    return (np.rint(x).astype(np.int64).sum(axis=1) % 2).astype(np.int64)


def save_dataset(path, x, y):
    dims = x.shape[1]
    header = ",".join(["x%d" % (i + 1) for i in range(dims)] + ["label"])
    rows = np.column_stack([x, y.astype(np.float64)])
    ensure_parent(path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        fmt = ",".join(["%.6f"] * dims + ["%d"])
        np.savetxt(f, rows, fmt=fmt)
    os.replace(tmp, path)


def load_dataset(path):
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
            if len(header) < 2 or header[-1] != "label":
                raise UsageError("data set %s: line 1: expected a header x1,...,label" % path)
            data = np.loadtxt(f, delimiter=",", ndmin=2)
    except OSError as e:
        raise UsageError("data set %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise UsageError("data set %s: %s" % (path, e))
    if data.shape[0] == 0 or data.shape[1] != len(header):
        raise UsageError("data set %s: expected %d columns per row" % (path, len(header)))
    return data[:, :-1], data[:, -1].astype(np.int64)


# ---- the model ------------------------------------------------------------

def act(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
    if name == "relu":
        return np.maximum(z, 0.0)
    return z


def load_model(path):
    """Read and check a kfboot.io/mlp-v1 model file; returns the dict."""
    m = read_json(path, "model")
    where = "model %s" % path
    if not isinstance(m, dict) or m.get("format") != MODEL_FORMAT:
        raise UsageError("%s: format is not %s" % (where, MODEL_FORMAT))
    n_in = m.get("inputs")
    layers = m.get("layers")
    if not isinstance(n_in, int) or n_in < 1 or not isinstance(layers, list) or not layers:
        raise UsageError("%s: needs inputs >= 1 and at least one layer" % where)
    for i, l in enumerate(layers):
        w = np.asarray(l.get("weights"), dtype=np.float64)
        b = np.asarray(l.get("bias"), dtype=np.float64)
        if l.get("activation") not in ACTIVATIONS:
            raise UsageError("%s: layer %d: unknown activation %r" % (where, i, l.get("activation")))
        if w.shape != (l.get("units"), n_in) or b.shape != (l.get("units"),):
            raise UsageError("%s: layer %d: weights must be %s x %d and bias %s long"
                             % (where, i, l.get("units"), n_in, l.get("units")))
        n_in = l["units"]
    last = layers[-1]
    if last["units"] != 1 or last["activation"] != "sigmoid":
        raise UsageError("%s: the last layer must be 1 sigmoid unit" % where)
    return m


def predict_proba(model, x):
    h = x
    for l in model["layers"]:
        w = np.asarray(l["weights"], dtype=np.float64)
        b = np.asarray(l["bias"], dtype=np.float64)
        h = act(l["activation"], h @ w.T + b)
    return h[:, 0]


def bce(p, y):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy(p, y, threshold=0.5):
    return float(np.mean((p >= threshold).astype(np.int64) == y))


def train_mlp(x, y, hidden, epochs, lr, seed, on_epoch=None):
    """Full-batch gradient descent on the binary cross-entropy.

    Inputs are centred (2x - 1) while training and the centring is folded
    back into the first layer, so the saved model takes raw inputs. The
    arrays are kept features x samples (contiguous) and reused between
    epochs, so one epoch is a handful of small BLAS calls. Returns (layers,
    loss per epoch, accuracy per epoch); epoch e's figures are those of the
    forward pass of that epoch, just before its update.
    """
    rng = np.random.default_rng(seed)
    n, d = x.shape
    xt = np.ascontiguousarray(2.0 * x.T - 1.0)   # d x n
    yf = y.astype(np.float64)
    losses = np.empty(epochs)
    accs = np.empty(epochs)
    if hidden > 0:
        w1 = rng.normal(0.0, 2.0 / np.sqrt(d), (hidden, d))
        b1 = rng.normal(0.0, 0.1, hidden)
        w2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), (1, hidden))
        b2 = np.zeros(1)
        h = np.empty((hidden, n))
        gh = np.empty((hidden, n))
    else:
        w1 = rng.normal(0.0, 0.1, (1, d))
        b1 = np.zeros(1)
    for e in range(epochs):
        if hidden > 0:
            np.matmul(w1, xt, out=h)
            h += b1[:, None]
            np.tanh(h, out=h)
            z = (w2 @ h)[0] + b2[0]
        else:
            z = (w1 @ xt)[0] + b1[0]
        p = act("sigmoid", z)
        g = (p - yf) / n                          # dL/dz of the output
        losses[e] = bce(p, yf)
        accs[e] = accuracy(p, y)
        if hidden > 0:
            gw2 = h @ g
            gb2 = g.sum()
            np.multiply(h, h, out=gh)             # gh = (1 - h^2) * w2 * g
            np.subtract(1.0, gh, out=gh)
            gh *= w2.T
            gh *= g[None, :]
            gw1 = gh @ xt.T
            gb1 = gh.sum(axis=1)
            w2 -= lr * gw2[None, :]
            b2 -= lr * gb2
        else:
            gw1 = (xt @ g)[None, :]
            gb1 = np.array([g.sum()])
        w1 -= lr * gw1
        b1 -= lr * gb1
        if on_epoch:
            on_epoch(e, losses[e], accs[e])
    if hidden > 0:
        return [
            {"units": hidden, "activation": "tanh",
             "weights": (2.0 * w1).tolist(), "bias": (b1 - w1.sum(axis=1)).tolist()},
            {"units": 1, "activation": "sigmoid",
             "weights": w2.tolist(), "bias": b2.tolist()},
        ], losses, accs
    return [{"units": 1, "activation": "sigmoid",
             "weights": (2.0 * w1).tolist(), "bias": (b1 - w1.sum(axis=1)).tolist()}], losses, accs
