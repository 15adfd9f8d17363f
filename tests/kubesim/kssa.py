"""Server-side apply (field ownership, conflicts, merge), merge patch and JSON patch.

Field paths are tuples of path elements written the way fieldsV1 writes them:
  "f:<field>"            a field of a map/struct
  "k:{<json of keys>}"   an item of an associative list (list-type map)
  "v:<json value>"       an item of a set list (list-type set)
A field set is a Python set of such tuples.  Members are scalar leaves, empty maps,
atomic lists (as a whole), and associative-list items (the item itself plus its fields).
"""

import copy
import json

ITEM = object()     # flat value marker for associative list items
MISSING = object()

# Fields never owned by anybody (server-managed).
SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
             "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
             "generateName"}

# Associative lists of built-in types, by field name (the real server knows them from the
# OpenAPI schema with x-kubernetes-list-type/-map-keys; kubesim approximates by name).
BUILTIN_LIST_KEYS = {
    "containers": ["name"], "initContainers": ["name"], "ephemeralContainers": ["name"],
    "env": ["name"], "volumes": ["name"], "volumeMounts": ["mountPath"],
    "volumeDevices": ["devicePath"], "imagePullSecrets": ["name"], "hostAliases": ["ip"],
    "webhooks": ["name"], "ownerReferences": ["uid"], "resourceClaims": ["name"],
    "topologySpreadConstraints": ["topologyKey", "whenUnsatisfiable"],
}
BUILTIN_SETS = {"finalizers"}
KEY_DEFAULTS = {"protocol": "TCP"}


class Ctx(object):
    """Where we are in the object: builtin heuristics or a CRD structural schema node."""
    __slots__ = ("builtin", "schema")

    def __init__(self, builtin, schema):
        self.builtin = builtin
        self.schema = schema

    def child(self, field, top=False):
        if top and field == "metadata":
            return Ctx(True, None)
        if self.builtin:
            return self
        s = self.schema
        if not isinstance(s, dict):
            return Ctx(False, None)
        props = s.get("properties")
        if props and field in props:
            return Ctx(False, props[field])
        ap = s.get("additionalProperties")
        if isinstance(ap, dict):
            return Ctx(False, ap)
        return Ctx(False, None)

    def item(self):
        if self.builtin:
            return self
        s = self.schema
        if isinstance(s, dict) and isinstance(s.get("items"), dict):
            return Ctx(False, s["items"])
        return Ctx(False, None)

    def list_type(self, field, items):
        """('map', keys) | ('set', None) | ('atomic', None)"""
        if self.builtin:
            if field in BUILTIN_SETS:
                return ("set", None)
            if field == "ports":
                if any(isinstance(i, dict) and "containerPort" in i for i in items):
                    return ("map", ["containerPort", "protocol"])
                if all(isinstance(i, dict) and "port" in i for i in items):
                    return ("map", ["port", "protocol"])
                return ("atomic", None)
            keys = BUILTIN_LIST_KEYS.get(field)
            if keys:
                return ("map", keys)
            return ("atomic", None)
        s = self.schema
        if isinstance(s, dict):
            lt = s.get("x-kubernetes-list-type")
            if lt == "map" and s.get("x-kubernetes-list-map-keys"):
                return ("map", list(s["x-kubernetes-list-map-keys"]))
            if lt == "set":
                return ("set", None)
        return ("atomic", None)


def root_ctx(rdef):
    if rdef is None or rdef.builtin:
        return Ctx(True, None)
    return Ctx(False, rdef.schema)


def _item_key(item, keys):
    if not isinstance(item, dict):
        return None
    k = {}
    for key in keys:
        if key in item:
            k[key] = item[key]
        elif key in KEY_DEFAULTS:
            k[key] = KEY_DEFAULTS[key]
        else:
            return None
    return "k:" + json.dumps(k, sort_keys=True, separators=(",", ":"))


def _list_keys(lst, keys):
    """Keys for every item or None when the list cannot be treated as associative."""
    out = []
    seen = set()
    for it in lst:
        k = _item_key(it, keys)
        if k is None or k in seen:
            return None
        seen.add(k)
        out.append(k)
    return out


def _set_key(v):
    return "v:" + json.dumps(v, sort_keys=True, separators=(",", ":"))


def flatten(obj, ctx, strip_status=False):
    """Flat {path: value} of the owned-able members of obj."""
    out = {}
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "status" and strip_status:
            continue
        if k == "metadata" and isinstance(v, dict):
            mctx = ctx.child("metadata", top=True)
            for mk, mv in v.items():
                if mk in SKIP_META or mv is None:
                    continue
                _flat(mv, ("f:metadata", "f:" + mk), mctx.child(mk), mk, out)
            continue
        if v is None:
            continue
        _flat(v, ("f:" + k,), ctx.child(k, top=True), k, out)
    return out


def _flat(v, path, ctx, field, out):
    if isinstance(v, dict):
        if not v:
            out[path] = {}
            return
        for k, cv in v.items():
            if cv is None:
                continue
            _flat(cv, path + ("f:" + k,), ctx.child(k), k, out)
    elif isinstance(v, list):
        lt, keys = ctx.list_type(field, v)
        if lt == "map" and v:
            ks = _list_keys(v, keys)
            if ks is not None:
                ictx = ctx.item()
                for key, it in zip(ks, v):
                    ip = path + (key,)
                    out[ip] = ITEM
                    for fk, fv in it.items():
                        if fv is None:
                            continue
                        _flat(fv, ip + ("f:" + fk,), ictx.child(fk), fk, out)
                return
        if lt == "set" and v:
            try:
                for it in v:
                    out[path + (_set_key(it),)] = it
                return
            except TypeError:
                pass
        out[path] = v
    else:
        out[path] = v


def to_fields_v1(paths):
    tree = {}
    for p in sorted(paths):
        node = tree
        for i, el in enumerate(p):
            node = node.setdefault(el, {})
        if p and p[-1].startswith("k:"):
            node["."] = {}
    return tree


def from_fields_v1(tree, prefix=()):
    out = set()
    if not isinstance(tree, dict):
        return out
    for k, v in tree.items():
        if k == ".":
            out.add(prefix)
            continue
        p = prefix + (k,)
        if not v or list(v.keys()) == ["."]:
            out.add(p)
        if isinstance(v, dict):
            out |= from_fields_v1(v, p)
    return out


def path_string(p):
    """fieldpath.Path.String(): .spec.replicas, .spec.containers[name="x"].image"""
    s = []
    for el in p:
        if el.startswith("f:"):
            s.append("." + el[2:])
        elif el.startswith("k:"):
            d = json.loads(el[2:])
            s.append("[" + ",".join("%s=%s" % (k, json.dumps(d[k])) for k in sorted(d)) + "]")
        elif el.startswith("v:"):
            s.append("[=" + el[2:] + "]")
        else:
            s.append("[" + el[2:] + "]")
    return "".join(s)


# ---------------------------------------------------------------------- merging

def merge_apply(live, cfg, ctx, field=None, top=False):
    """Merge an apply configuration into the live value (returns a new value).

    The result shares sub-trees with cfg (cfg is consumed: it comes from a request body) and
    with live where cfg does not touch them (live is never modified)."""
    if isinstance(cfg, dict) and isinstance(live, dict):
        out = dict(live)
        for k, v in cfg.items():
            if top and k == "metadata":
                cctx = ctx.child("metadata", top=True)
            else:
                cctx = ctx.child(k, top=top)
            if v is None:
                out.pop(k, None)
            elif k in live:
                out[k] = merge_apply(live[k], v, cctx, k)
            else:
                out[k] = v
        return out
    if isinstance(cfg, list) and isinstance(live, list):
        lt, keys = ctx.list_type(field, cfg)
        if lt == "map":
            ck = _list_keys(cfg, keys)
            lk = _list_keys(live, keys) if ck is not None else None
            if ck is not None and lk is not None:
                lmap = dict(zip(lk, live))
                cmap = dict(zip(ck, cfg))
                ictx = ctx.item()
                out = []
                for key, it in zip(lk, live):
                    if key in cmap:
                        out.append(merge_apply(it, cmap[key], ictx))
                    else:
                        out.append(it)
                for key, it in zip(ck, cfg):
                    if key not in lmap:
                        out.append(it)
                return out
        if lt == "set":
            try:
                seen = {_set_key(x) for x in live}
                out = list(live)
                for x in cfg:
                    if _set_key(x) not in seen:
                        out.append(x)
                        seen.add(_set_key(x))
                return out
            except TypeError:
                pass
    return cfg


def remove_path(obj, path, ctx):
    """Remove the member at path from obj (in place).  Returns True if removed."""
    cur = obj
    parents = []
    field = None
    c = ctx
    for i, el in enumerate(path):
        last = i == len(path) - 1
        if el.startswith("f:"):
            name = el[2:]
            if not isinstance(cur, dict) or name not in cur:
                return False
            if last:
                del cur[name]
                _prune_empty(parents)
                return True
            parents.append((cur, name))
            c = c.child(name, top=(i == 0))
            field = name
            cur = cur[name]
        else:
            if not isinstance(cur, list):
                return False
            idx = None
            if el.startswith("k:"):
                lt, keys = c.list_type(field, cur)
                if lt != "map":
                    return False
                for j, it in enumerate(cur):
                    if _item_key(it, keys) == el:
                        idx = j
                        break
            elif el.startswith("v:"):
                for j, it in enumerate(cur):
                    try:
                        if _set_key(it) == el:
                            idx = j
                            break
                    except TypeError:
                        pass
            if idx is None:
                return False
            if last:
                del cur[idx]
                return True
            parents.append((cur, idx))
            c = c.item()
            cur = cur[idx]
    return False


def _prune_empty(parents):
    # Drop maps that became empty because their last owned field went away
    # (but never the top-level metadata/spec containers themselves).
    while len(parents) > 1:
        container, key = parents.pop()
        v = container[key]
        if isinstance(v, dict) and not v and isinstance(container, dict):
            del container[key]
        else:
            break


# ---------------------------------------------------------------------- apply

class ApplyConflict(Exception):
    def __init__(self, conflicts):
        Exception.__init__(self, "conflict")
        self.conflicts = conflicts      # list of (manager_display, path)


def manager_display(key, entry):
    manager, operation, sub = key
    s = json.dumps(manager)
    if sub:
        s += " with subresource %s" % json.dumps(sub)
    if operation == "Update":
        if entry.get("time"):
            return "%s using %s at %s" % (s, entry["apiVersion"], entry["time"])
        return "%s using %s" % (s, entry["apiVersion"])
    return s


def conflict_message(conflicts):
    if len(conflicts) == 1:
        m, p = conflicts[0]
        return "Apply failed with 1 conflict: conflict with %s: %s" % (m, path_string(p))
    by = {}
    for m, p in conflicts:
        by.setdefault(m, []).append(p)
    msgs = []
    for m in sorted(by):
        msgs.append("conflicts with %s:" % m)
        for p in by[m]:
            msgs.append("- %s" % path_string(p))
    return "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(msgs))


def apply(live, cfg, managed, manager, api_version, now, force, ctx, strip_status):
    """Server-side apply.

    live: stored object (dict) or None; cfg: applied configuration; managed: dict
    (manager, operation, subresource) -> {"set": set, "apiVersion": str, "time": str}.
    Returns (new_object, new_managed).  Raises ApplyConflict."""
    cfg = dict(cfg)
    if strip_status:
        cfg.pop("status", None)
    cfg_flat = flatten(cfg, ctx, strip_status)
    my_key = (manager, "Apply", "")
    if live is None:
        live_flat = {}
        base = {}
    else:
        live_flat = flatten(live, ctx, strip_status)
        base = live
    conflicts = []
    lose = {}
    for key, entry in managed.items():
        if key == my_key:
            continue
        common = entry["set"] & cfg_flat.keys()
        for p in sorted(common):
            lv = live_flat.get(p, MISSING)
            cv = cfg_flat[p]
            if lv is ITEM or cv is ITEM:
                continue
            if lv != cv:
                conflicts.append((manager_display(key, entry), p))
                lose.setdefault(key, set()).add(p)
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    new_managed = {}
    for key, entry in managed.items():
        if key == my_key:
            continue
        s = entry["set"] - lose.get(key, set())
        if s:
            new_managed[key] = dict(entry, set=s)
    # merge
    merged = merge_apply(base, cfg, ctx, top=True)
    # metadata: keep server fields of live
    # removal of fields this manager owned before but no longer applies
    old_mine = managed.get(my_key, {}).get("set", set())
    gone = old_mine - cfg_flat.keys()
    if gone:
        keep = set()
        for e in new_managed.values():
            keep |= e["set"]
        keep |= cfg_flat.keys()
        prefixes = set()
        for p in keep:
            for i in range(1, len(p)):
                prefixes.add(p[:i])
        merged = copy.deepcopy(merged)
        for p in sorted(gone, key=len, reverse=True):
            if p in keep or p in prefixes:
                continue
            remove_path(merged, p, ctx)
    new_managed[my_key] = {"set": set(cfg_flat.keys()), "apiVersion": api_version,
                           "time": now}
    return merged, new_managed


def update_ownership(old, new, managed, manager, api_version, now, ctx, subresource="",
                     strip_status=False):
    """Ownership after a non-apply write (create/update/patch) by manager."""
    of = flatten(old, ctx, strip_status) if old else {}
    nf = flatten(new, ctx, strip_status)
    changed = {p for p, v in nf.items() if of.get(p, MISSING) != v}
    removed = of.keys() - nf.keys()
    key = (manager, "Update", subresource)
    out = {}
    for k, e in managed.items():
        s = e["set"] - changed - removed
        if k == key:
            continue
        if s:
            out[k] = dict(e, set=s)
    mine = (managed.get(key, {}).get("set", set()) - removed) | changed
    if mine:
        out[key] = {"set": mine, "apiVersion": api_version, "time": now}
    return out


def render_managed(managed, order=None):
    """managedFields list for the object, in the real server's order
    (sortEncodedManagedFields): Apply entries before Update entries, then
    by time (oldest first; one-second resolution), then manager name, then
    subresource."""
    out = []
    keys = sorted(managed.keys(), key=lambda k: (k[1], (managed[k].get("time") or "")[:19], k[0], k[2]))
    for key in keys:
        manager, operation, sub = key
        e = managed[key]
        entry = {"manager": manager, "operation": operation, "apiVersion": e["apiVersion"],
                 "time": e["time"], "fieldsType": "FieldsV1",
                 "fieldsV1": to_fields_v1(e["set"])}
        if sub:
            entry["subresource"] = sub
        out.append(entry)
    return out


def managed_from_object(obj):
    out = {}
    for e in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(e, dict) or not e.get("manager"):
            continue
        key = (e["manager"], e.get("operation", "Update"), e.get("subresource", ""))
        out[key] = {"set": from_fields_v1(e.get("fieldsV1") or {}),
                    "apiVersion": e.get("apiVersion", ""), "time": e.get("time", "")}
    return out


def managed_equal(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        if a[k]["set"] != b[k]["set"] or a[k]["apiVersion"] != b[k]["apiVersion"]:
            return False
    return True


# ---------------------------------------------------------------------- patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif k not in out and isinstance(v, dict) and v and \
                all(x is None for x in v.values()):
            continue  # deleting keys of a map that is not there: no empty map appears
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class JSONPatchError(Exception):
    pass


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise JSONPatchError("invalid JSON pointer: %s" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise JSONPatchError("doc is missing path: \"/%s\": missing value"
                                     % "/".join(parts))
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise JSONPatchError("doc is missing path: \"/%s\": missing value"
                                     % "/".join(parts))
        else:
            raise JSONPatchError("doc is missing path: \"/%s\"" % "/".join(parts))
    return cur


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise JSONPatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for op in ops:
        kind = op.get("op")
        parts = _ptr(op.get("path", ""))
        if kind in ("add", "replace", "test", "remove"):
            parent = _walk(doc, parts[:-1]) if parts else None
            last = parts[-1] if parts else None
        if kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise JSONPatchError("testing value %s failed: test failed" % op.get("path"))
        elif kind == "add":
            if isinstance(parent, dict):
                parent[last] = copy.deepcopy(op.get("value"))
            elif isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(op.get("value")))
                else:
                    parent.insert(int(last), copy.deepcopy(op.get("value")))
        elif kind == "replace":
            _walk(doc, parts)
            if isinstance(parent, dict):
                parent[last] = copy.deepcopy(op.get("value"))
            else:
                parent[int(last)] = copy.deepcopy(op.get("value"))
        elif kind == "remove":
            _walk(doc, parts)
            if isinstance(parent, dict):
                del parent[last]
            else:
                del parent[int(last)]
        elif kind in ("move", "copy"):
            frm = _ptr(op.get("from", ""))
            val = copy.deepcopy(_walk(doc, frm))
            if kind == "move":
                fp = _walk(doc, frm[:-1])
                if isinstance(fp, dict):
                    del fp[frm[-1]]
                else:
                    del fp[int(frm[-1])]
            parent = _walk(doc, parts[:-1])
            if isinstance(parent, dict):
                parent[parts[-1]] = val
            elif parts[-1] == "-":
                parent.append(val)
            else:
                parent.insert(int(parts[-1]), val)
        else:
            raise JSONPatchError("Unexpected kind: %s" % kind)
    return doc


# ---------------------------------------------------------------------- strategic merge patch

def _smp_merge_key(field, items):
    """Merge key of a built-in list for strategic merge patch, or None (replace)."""
    if field == "ports":
        if any(isinstance(i, dict) and "containerPort" in i for i in items):
            return "containerPort"
        return "port"
    keys = BUILTIN_LIST_KEYS.get(field)
    if keys:
        return keys[0]
    if field in ("finalizers",):
        return None
    return None


def strategic_merge_patch(target, patch, field=None):
    """Strategic merge patch for built-in kinds: lists with a known merge key are merged by
    key, directives $patch (replace/delete/merge), $setElementOrder/, $retainKeys,
    $deleteFromPrimitiveList/ are honoured (ordering directives are ignored)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive == "delete":
        return None
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list) and isinstance(v, list):
                out[f] = [x for x in out[f] if x not in v]
            continue
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            if k not in out and v and all(x is None for x in v.values()):
                continue
            r = strategic_merge_patch(out.get(k), v, k)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list):
            cur = out.get(k)
            mk = _smp_merge_key(k, v + (cur if isinstance(cur, list) else []))
            if mk and isinstance(cur, list) and all(isinstance(i, dict) for i in v):
                res = list(cur)
                for item in v:
                    key = item.get(mk)
                    idx = next((j for j, x in enumerate(res)
                                if isinstance(x, dict) and x.get(mk) == key), None)
                    if item.get("$patch") == "delete":
                        if idx is not None:
                            del res[idx]
                        continue
                    if idx is None:
                        res.append({a: b for a, b in item.items() if not a.startswith("$")})
                    else:
                        res[idx] = strategic_merge_patch(res[idx], item, None)
                out[k] = res
            else:
                out[k] = [x for x in copy.deepcopy(v)
                          if not (isinstance(x, dict) and x.get("$patch") == "delete")]
        else:
            out[k] = copy.deepcopy(v)
    if isinstance(retain, list):
        for k in list(out):
            if k not in retain and k not in patch:
                del out[k]
    return out
