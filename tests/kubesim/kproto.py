"""Decoding of Kubernetes protobuf request bodies for a few simple kinds.

kubectl's typed commands (`kubectl create namespace|configmap|secret|serviceaccount`) send
`application/vnd.kubernetes.protobuf`.  This decodes the runtime.Unknown envelope and the
messages of Namespace, ConfigMap, Secret and ServiceAccount (with ObjectMeta) into the JSON
form.  Other kinds raise Unsupported (kubesim answers 415)."""

import base64
import struct
import time


class Unsupported(Exception):
    pass


def _varint(b, i):
    shift = 0
    v = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, i
        shift += 7


def fields(b):
    """Yields (field_number, wire_type, value) of a protobuf message."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v = struct.unpack("<q", b[i:i + 8])[0]
            i += 8
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 5:
            v = struct.unpack("<i", b[i:i + 4])[0]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield fn, wt, v


def _time(b):
    secs = 0
    for fn, _, v in fields(b):
        if fn == 1:
            secs = v
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secs))


def _map(b, vtype):
    k, val = "", "" if vtype == "string" else b""
    for fn, _, v in fields(b):
        if fn == 1:
            k = v.decode()
        elif fn == 2:
            val = v
    if vtype == "string":
        return k, val.decode() if isinstance(val, bytes) else val
    return k, base64.b64encode(val).decode()


OWNER_REF = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
             5: ("apiVersion", "string"), 6: ("controller", "bool"),
             7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {1: ("name", "string"), 2: ("generateName", "string"),
               3: ("namespace", "string"), 5: ("uid", "string"),
               6: ("resourceVersion", "string"), 7: ("generation", "int"),
               8: ("creationTimestamp", "time"), 11: ("labels", "map:string"),
               12: ("annotations", "map:string"), 13: ("ownerReferences", ("list", OWNER_REF)),
               14: ("finalizers", "list:string")}
OBJECT_REF = {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
              4: ("uid", "string"), 5: ("apiVersion", "string"),
              6: ("resourceVersion", "string"), 7: ("fieldPath", "string")}
LOCAL_REF = {1: ("name", "string")}
SCHEMAS = {
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META),
                          2: ("spec", {1: ("finalizers", "list:string")}),
                          3: ("status", {1: ("phase", "string")})},
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", "map:string"),
                          3: ("binaryData", "map:bytes"), 4: ("immutable", "bool")},
    ("v1", "Secret"): {1: ("metadata", OBJECT_META), 2: ("data", "map:bytes"),
                       3: ("type", "string"), 4: ("stringData", "map:string"),
                       5: ("immutable", "bool")},
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META),
                               2: ("secrets", ("list", OBJECT_REF)),
                               3: ("imagePullSecrets", ("list", LOCAL_REF)),
                               4: ("automountServiceAccountToken", "bool")},
}


def _decode(b, schema):
    out = {}
    for fn, wt, v in fields(b):
        if fn not in schema:
            continue
        name, typ = schema[fn]
        if isinstance(typ, dict):
            out[name] = _decode(v, typ)
        elif isinstance(typ, tuple):
            out.setdefault(name, []).append(_decode(v, typ[1]))
        elif typ == "string":
            if v:  # Go marshals empty strings; JSON would omit them (omitempty)
                out[name] = v.decode()
        elif typ == "int":
            if v:
                out[name] = v
        elif typ == "bool":
            out[name] = bool(v)
        elif typ == "time":
            out[name] = _time(v)
        elif typ == "list:string":
            out.setdefault(name, []).append(v.decode())
        elif typ.startswith("map:"):
            k, val = _map(v, typ[4:])
            out.setdefault(name, {})[k] = val
    return out


def decode(body):
    """runtime.Unknown envelope ('k8s\\0' + message) -> JSON-like dict."""
    if body[:4] != b"k8s\x00":
        raise Unsupported("missing protobuf envelope magic")
    api_version = kind = ""
    raw = b""
    for fn, _, v in fields(body[4:]):
        if fn == 1:
            for tfn, _, tv in fields(v):
                if tfn == 1:
                    api_version = tv.decode()
                elif tfn == 2:
                    kind = tv.decode()
        elif fn == 2:
            raw = v
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise Unsupported("kubesim decodes protobuf only for %s; got %s %s"
                          % (", ".join(k for _, k in sorted(SCHEMAS)), api_version, kind))
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(_decode(raw, schema))
    md = obj.get("metadata")
    if md is not None and "creationTimestamp" in md and md["creationTimestamp"].startswith(
            "1970-01-01"):
        del md["creationTimestamp"]
    return obj
