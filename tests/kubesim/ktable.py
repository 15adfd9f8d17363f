"""meta.k8s.io/v1 Table rendering (what kubectl get asks for)."""

import calendar
import re
import time


def human_duration(seconds):
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return "%ds" % seconds
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return "%dm" % minutes if s == 0 else "%dm%ds" % (minutes, s)
    if minutes < 180:
        return "%dm" % minutes
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        d = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if d == 0 else "%dy%dd" % (hours // 24 // 365, d)
    return "%dy" % (hours // 24 // 365)


def age(ts):
    if not ts:
        return "<unknown>"
    try:
        t = calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return "<unknown>"
    return human_duration(int(time.time() - t))


_SEG = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def jsonpath(obj, path):
    """Evaluates the simple JSONPath forms used in additionalPrinterColumns."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    cur = [obj]
    pos = 0
    while pos < len(path):
        m = _SEG.match(path, pos)
        if not m:
            return None
        pos = m.end()
        nxt = []
        for c in cur:
            if m.group(1) is not None:
                if isinstance(c, dict) and m.group(1) in c:
                    nxt.append(c[m.group(1)])
            elif m.group(2) is not None:
                i = int(m.group(2))
                if isinstance(c, list) and i < len(c):
                    nxt.append(c[i])
            else:
                if isinstance(c, list):
                    for it in c:
                        if isinstance(it, dict) and str(it.get(m.group(3))) == m.group(4):
                            nxt.append(it)
        cur = nxt
    if not cur:
        return None
    return cur[0] if len(cur) == 1 else ",".join(str(x) for x in cur)


def _cell(v, typ):
    if v is None:
        return None
    if typ == "date":
        return age(v) if isinstance(v, str) else v
    if isinstance(v, (dict, list)):
        import json
        return json.dumps(v, separators=(",", ":"))
    return v


def _ports(svc):
    out = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        s = "%s/%s" % (p.get("port"), p.get("protocol", "TCP"))
        if p.get("nodePort"):
            s = "%s:%s/%s" % (p.get("port"), p["nodePort"], p.get("protocol", "TCP"))
        out.append(s)
    return ",".join(out) or "<none>"


def _cond(obj, t):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == t:
            return c.get("status")
    return None


def columns_for(rdef):
    """[(name, type, fn(obj))] excluding Name (first) and Age (last)."""
    gr = rdef.gr
    st = lambda o: o.get("status") or {}
    sp = lambda o: o.get("spec") or {}
    if gr == ("apps", "deployments"):
        return [("Ready", "string", lambda o: "%d/%d" % (st(o).get("readyReplicas", 0),
                                                         sp(o).get("replicas", 1))),
                ("Up-to-date", "integer", lambda o: st(o).get("updatedReplicas", 0)),
                ("Available", "integer", lambda o: st(o).get("availableReplicas", 0))]
    if gr == ("apps", "statefulsets"):
        return [("Ready", "string", lambda o: "%d/%d" % (st(o).get("readyReplicas", 0),
                                                         sp(o).get("replicas", 1)))]
    if gr == ("apps", "daemonsets"):
        return [("Desired", "integer", lambda o: st(o).get("desiredNumberScheduled", 0)),
                ("Current", "integer", lambda o: st(o).get("currentNumberScheduled", 0)),
                ("Ready", "integer", lambda o: st(o).get("numberReady", 0))]
    if gr == ("", "namespaces"):
        return [("Status", "string", lambda o: st(o).get("phase", ""))]
    if gr == ("", "services"):
        return [("Type", "string", lambda o: sp(o).get("type", "ClusterIP")),
                ("Cluster-IP", "string", lambda o: sp(o).get("clusterIP", "<none>")),
                ("External-IP", "string", lambda o: "<none>"),
                ("Port(s)", "string", _ports)]
    if gr == ("", "configmaps"):
        return [("Data", "integer", lambda o: len(o.get("data") or {}) +
                 len(o.get("binaryData") or {}))]
    if gr == ("", "secrets"):
        return [("Type", "string", lambda o: o.get("type", "Opaque")),
                ("Data", "integer", lambda o: len(o.get("data") or {}))]
    if gr == ("", "nodes"):
        return [("Status", "string", lambda o: "Ready" if _cond(o, "Ready") == "True"
                 else "NotReady"),
                ("Roles", "string", lambda o: "control-plane"),
                ("Version", "string", lambda o: st(o).get("nodeInfo", {}).get("kubeletVersion",
                                                                              ""))]
    if gr == ("", "persistentvolumeclaims"):
        return [("Status", "string", lambda o: st(o).get("phase", "")),
                ("Storageclass", "string", lambda o: sp(o).get("storageClassName", ""))]
    if gr == ("batch", "jobs"):
        return [("Status", "string", lambda o: "Complete" if _cond(o, "Complete") == "True"
                 else "Running"),
                ("Completions", "string", lambda o: "%d/%d" % (st(o).get("succeeded", 0),
                                                               sp(o).get("completions", 1)))]
    if gr == ("apiextensions.k8s.io", "customresourcedefinitions"):
        return [("Created At", "timestamp", lambda o: o["metadata"].get("creationTimestamp"))]
    if not rdef.builtin and rdef.crd:
        return None
    return []


def table(rdef, objs, crd_obj=None, include="Metadata", list_meta=None):
    cols = columns_for(rdef)
    custom = None
    if cols is None:
        cols = []
        if crd_obj is not None:
            for v in (crd_obj.get("spec") or {}).get("versions") or []:
                if v.get("name") == rdef.version:
                    custom = v.get("additionalPrinterColumns")
        for c in custom or []:
            jp, typ = c.get("jsonPath", ""), c.get("type", "string")
            cols.append((c.get("name", ""), typ,
                         (lambda jp, typ: lambda o: _cell(jsonpath(o, jp), typ))(jp, typ),
                         c.get("priority", 0)))
    defs = [{"name": "Name", "type": "string", "format": "name", "description":
             "Name must be unique within a namespace.", "priority": 0}]
    for c in cols:
        defs.append({"name": c[0], "type": "string" if c[1] in ("date", "timestamp") else c[1],
                     "format": "",
                     "description": c[0], "priority": c[3] if len(c) > 3 else 0})
    has_age = any(c[0] == "Age" or c[1] == "timestamp" for c in cols)
    if not has_age:
        defs.append({"name": "Age", "type": "string", "format": "", "description":
                     "CreationTimestamp is a timestamp representing the server time when this "
                     "object was created.", "priority": 0})
    rows = []
    for o in objs:
        cells = [o["metadata"].get("name", "")]
        for c in cols:
            try:
                v = c[2](o)
            except Exception:
                v = None
            if c[1] == "date" and isinstance(v, str):
                v = age(v)
            cells.append(v if v is not None else "<none>" if custom is None else None)
        if not has_age:
            cells.append(age(o["metadata"].get("creationTimestamp")))
        if include == "None":
            ro = None
        elif include == "Object":
            ro = o
        else:
            ro = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                  "metadata": o["metadata"]}
        row = {"cells": cells}
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {},
            "columnDefinitions": defs, "rows": rows}
