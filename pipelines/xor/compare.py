#!/usr/bin/env python3
"""compare - plots comparing the two models, metrics.json and the run report.

Plots: training loss and accuracy per epoch of both models, and (two
dimensions only) their decision regions over the test set. metrics.json
holds the figures a promotion gate reads (test_accuracy is the
hidden-layer model's). In a cluster run it also writes the run report,
the ConfigMap kfboot-run-<run id> with metrics.json and model.json
(uri, format), labelled kfboot.io/run-id, through the pod's service
account: plain HTTPS to the API server with the account's token and CA.

Where the API server is: $KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT
(set in every pod), or $KFBOOT_API_SERVER (a URL). The credentials: the
directory $KFBOOT_SA_DIR (default /var/run/secrets/kubernetes.io/
serviceaccount) with token, ca.crt and namespace. --report auto (the
default) writes the report when both are there and says why not otherwise.
"""
import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import xorlib
from xorlib import np

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def plots(hist, models, test, dims, loss_out, acc_out, regions_out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = {"linear": "#ff7f0e", "hidden": "#2ca02c"}
    written = []
    for key, ylabel, out in (("loss", "training loss (binary cross-entropy)", loss_out),
                             ("accuracy", "training accuracy", acc_out)):
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for k in ("linear", "hidden"):
            h = hist[k]
            label = "linear" if h["hidden"] == 0 else "%d hidden units" % h["hidden"]
            ax.plot(np.arange(1, h["epochs"] + 1), h[key], label=label, color=colours[k])
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if key == "accuracy":
            ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        ax.set_title("XOR, %d dimensions: %s per epoch" % (dims, key))
        fig.tight_layout()
        xorlib.ensure_parent(out)
        fig.savefig(out, format="png", dpi=80)
        plt.close(fig)
        written.append(out)
    if dims != 2:
        print("compare: decision regions are drawn only for 2 dimensions (this run has %d): "
              "nothing written to %s" % (dims, regions_out))
        return written
    xt, yt = test
    g = np.linspace(0, 1, 201)
    gx, gy = np.meshgrid(g, g)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), sharey=True)
    for ax, k in zip(axes, ("linear", "hidden")):
        p = xorlib.predict_proba(models[k], grid).reshape(gx.shape)
        ax.contourf(gx, gy, p, levels=[0, 0.5, 1], colors=["#c6dbef", "#fcbba1"])
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=0.8)
        for cls, colour in ((0, "#1f77b4"), (1, "#d62728")):
            m = yt == cls
            ax.scatter(xt[m, 0], xt[m, 1], s=4, c=colour, linewidths=0)
        acc = xorlib.accuracy(xorlib.predict_proba(models[k], xt), yt)
        name = "linear" if k == "linear" else "%d hidden units" % models[k]["meta"].get("hidden", 0)
        ax.set_title("%s: test accuracy %.3f" % (name, acc))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    fig.suptitle("decision regions (shaded: predicted class; dots: test set)")
    fig.tight_layout()
    xorlib.ensure_parent(regions_out)
    fig.savefig(regions_out, format="png", dpi=80)
    plt.close(fig)
    written.append(regions_out)
    return written


def api_target():
    """(server URL, SA dir) of the cluster, or (None, why not)."""
    sa = os.environ.get("KFBOOT_SA_DIR", SA_DIR)
    server = os.environ.get("KFBOOT_API_SERVER")
    if not server and os.environ.get("KUBERNETES_SERVICE_HOST"):
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        if ":" in host:
            host = "[%s]" % host
        server = "https://%s:%s" % (host, os.environ.get("KUBERNETES_SERVICE_PORT", "443"))
    if not server:
        return None, "not in a cluster (no KUBERNETES_SERVICE_HOST or KFBOOT_API_SERVER)"
    if not os.path.isfile(os.path.join(sa, "token")):
        return None, "no service account token in %s" % sa
    return server, sa


def write_report(server, sa, run_id, metrics, model_ref, attempts=5):
    """Server-side apply the report ConfigMap; retries transient failures."""
    def read(name):
        with open(os.path.join(sa, name), encoding="utf-8") as f:
            return f.read().strip()
    ns = os.environ.get("KFBOOT_REPORT_NAMESPACE") or read("namespace")
    name = "kfboot-run-%s" % run_id
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kfboot.io/run-id": run_id,
                                    "app.kubernetes.io/part-of": "kfboot"}},
            "data": {"metrics.json": json.dumps(metrics, sort_keys=True),
                     "model.json": json.dumps(model_ref, sort_keys=True)}}
    ctx = ssl.create_default_context(cafile=os.path.join(sa, "ca.crt"))
    url = "%s/api/v1/namespaces/%s/configmaps/%s?fieldManager=kfboot-xor&force=true" % (
        server.rstrip("/"), urllib.parse.quote(ns), urllib.parse.quote(name))
    delay = 0.5
    for attempt in range(1, attempts + 1):
        token = read("token")        # re-read: the kubelet rotates it
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PATCH",
                                     headers={"Content-Type": "application/apply-patch+yaml",
                                              "Accept": "application/json",
                                              "Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                r.read()
                return "%s/%s" % (ns, name)
        except urllib.error.HTTPError as e:
            detail = e.read()[:500].decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except ValueError:
                pass
            if e.code not in (429, 500, 502, 503, 504) or attempt == attempts:
                raise RuntimeError("configmap %s/%s: HTTP %d: %s" % (ns, name, e.code, detail))
        except (urllib.error.URLError, OSError) as e:
            if attempt == attempts:
                raise RuntimeError("configmap %s/%s: %s: %s" % (
                    ns, name, server, getattr(e, "reason", e)))
        print("compare: report: attempt %d failed, retrying in %.1fs" % (attempt, delay),
              file=sys.stderr)
        time.sleep(delay)
        delay *= 2
    return None


def main(argv):
    ap = argparse.ArgumentParser(prog="compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--test", required=True)
    ap.add_argument("--linear-model", required=True)
    ap.add_argument("--hidden-model", required=True)
    ap.add_argument("--linear-history", required=True)
    ap.add_argument("--hidden-history", required=True)
    ap.add_argument("--evaluation", required=True, help="evaluate's metrics JSON")
    ap.add_argument("--linear-accuracy", required=True)
    ap.add_argument("--hidden-accuracy", required=True)
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--model-uri", default="", help="where the hidden-layer model is stored")
    ap.add_argument("--loss-plot", required=True)
    ap.add_argument("--accuracy-plot", required=True)
    ap.add_argument("--regions-plot", required=True)
    ap.add_argument("--metrics-out", required=True)
    ap.add_argument("--report", choices=("auto", "always", "never"), default="auto")
    a = ap.parse_args(argv)
    lin_acc = xorlib.parse_float("linear-accuracy", a.linear_accuracy, 0.0, 1.0)
    hid_acc = xorlib.parse_float("hidden-accuracy", a.hidden_accuracy, 0.0, 1.0)
    run_id = a.run_id.strip()
    if not run_id or len(run_id) > 200 or not all(c.isalnum() or c in "-." for c in run_id):
        raise xorlib.UsageError("--run-id: %r is not usable in a ConfigMap name" % a.run_id)
    run_id = run_id.lower()
    models = {"linear": xorlib.load_model(a.linear_model),
              "hidden": xorlib.load_model(a.hidden_model)}
    hist = {"linear": xorlib.read_json(a.linear_history, "history"),
            "hidden": xorlib.read_json(a.hidden_history, "history")}
    ev = xorlib.read_json(a.evaluation, "evaluation")
    xt, yt = xorlib.load_dataset(a.test)
    dims = int(xt.shape[1])
    written = plots(hist, models, (xt, yt), dims, a.loss_plot, a.accuracy_plot, a.regions_plot)
    hm = models["hidden"]["meta"]
    metrics = {
        "test_accuracy": hid_acc,
        "linear_test_accuracy": lin_acc,
        "train_accuracy": hm.get("train_accuracy"),
        "test_loss": ev.get("hidden", {}).get("test_loss"),
        "linear_test_loss": ev.get("linear", {}).get("test_loss"),
        "hidden_units": hm.get("hidden"),
        "epochs": hm.get("epochs"),
        "learning_rate": hm.get("learning_rate"),
        "dims": dims,
        "test_points": int(len(yt)),
        "run_id": run_id,
    }
    xorlib.write_json(a.metrics_out, metrics)
    print("compare: hidden-layer test accuracy %.4f, linear %.4f" % (hid_acc, lin_acc))
    for w in written:
        print("compare: wrote %s" % w)
    model_ref = {"uri": a.model_uri, "format": xorlib.MODEL_FORMAT, "name": models["hidden"].get("name")}
    if a.report == "never":
        return 0
    server, sa = api_target()
    if server is None:
        if a.report == "always":
            raise xorlib.UsageError("run report: %s" % sa)
        print("compare: run report not written: %s" % sa)
        return 0
    try:
        where = write_report(server, sa, run_id, metrics, model_ref)
    except (RuntimeError, OSError) as e:
        print("compare: error: run report: %s" % e, file=sys.stderr)
        return 1
    print("compare: run report written: configmap %s" % where)
    return 0


if __name__ == "__main__":
    sys.exit(xorlib.run_main("compare", main, sys.argv[1:]))
