#!/usr/bin/env python3
"""mark_ready.py - stand in for the controllers a test API server lacks.

realk8s is a genuine kube-apiserver without controller manager or kubelet:
Deployments never get pods, so a health wait on them never ends. This
script does, through the `/status` subresource (as the admin identity may),
what the controllers would report once a workload is up:

    mark_ready.py KUBECONFIG [--interval S] [--once]

Every interval it lists Deployments, StatefulSets, DaemonSets and Jobs in
all namespaces and writes a ready status for each one whose status does not
say so yet (observedGeneration = generation, all replicas ready, updated
and available; a Job Complete). It runs until killed (or one pass with
--once). Standard library only; the kubeconfig must embed the client
certificate (as realk8s writes it).
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differential import Server  # noqa: E402

MERGE = "application/merge-patch+json"


def want_status(kind, o):
    md, spec, st = o["metadata"], o.get("spec") or {}, o.get("status") or {}
    gen = md.get("generation", 1)
    if kind == "deployments" or kind == "statefulsets":
        n = spec.get("replicas", 1)
        s = {"observedGeneration": gen, "replicas": n, "readyReplicas": n, "updatedReplicas": n,
             "availableReplicas": n}
        if kind == "deployments":
            s["conditions"] = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                "message": "marked ready by mark_ready.py"}]
        else:
            s["currentReplicas"] = n
    elif kind == "daemonsets":
        s = {"observedGeneration": gen, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
             "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1, "numberMisscheduled": 0}
    else:  # jobs
        if any(c.get("type") == "Complete" for c in st.get("conditions") or []):
            return None
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"startTime": now, "completionTime": now, "succeeded": 1,
                "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                               {"type": "Complete", "status": "True"}]}
    if all(st.get(k) == v for k, v in s.items() if k != "conditions"):
        return None
    return s


def one_pass(srv):
    marked = 0
    for group, kind in (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
                        ("batch", "jobs")):
        code, doc, _, _ = srv.req("GET", "/apis/%s/v1/%s" % (group, kind))
        if code != 200:
            continue
        for o in doc.get("items") or []:
            s = want_status(kind, o)
            if s is None:
                continue
            md = o["metadata"]
            path = "/apis/%s/v1/namespaces/%s/%s/%s/status" % (group, md["namespace"], kind, md["name"])
            code, _, _, _ = srv.req("PATCH", path, {"status": s}, MERGE)
            marked += code == 200
    return marked


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kubeconfig")
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--once", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        srv = Server(a.kubeconfig, scratch)
        while True:
            try:
                one_pass(srv)
            except OSError:
                pass
            if a.once:
                return 0
            time.sleep(a.interval)


if __name__ == "__main__":
    sys.exit(main())
