"""Validation of custom resources against a CRD's structural OpenAPI v3 schema.

Checks what the real server checks most visibly: types, required fields, enums,
unknown fields (error with fieldValidation=Strict; the real server prunes them otherwise,
kubesim prunes too), nullable, x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields,
x-kubernetes-embedded-resource.  Not checked: patterns, formats, min/max, CEL rules."""

import json

_TYPES = {"object": "object", "array": "array", "string": "string", "integer": "integer",
          "number": "number", "boolean": "boolean"}


def _type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "unknown"


def validate(obj, schema, strict):
    """Returns list of (field, reason, detail); prunes unknown fields in place."""
    errs = []
    if not isinstance(schema, dict):
        return errs
    props = schema.get("properties") or {}
    for k in list(obj.keys()):
        if k in ("apiVersion", "kind", "metadata"):
            continue
        if k in props:
            _check(obj[k], props[k], k, errs, strict, obj, k)
        elif schema.get("x-kubernetes-preserve-unknown-fields"):
            continue
        else:
            if strict:
                errs.append((k, "UnknownField", 'unknown field "%s"' % k))
            else:
                del obj[k]
    for r in schema.get("required") or []:
        if r not in obj and r not in ("apiVersion", "kind", "metadata"):
            errs.append((r, "FieldValueRequired", "Required value"))
    return errs


def _check(v, s, path, errs, strict, parent, key):
    if not isinstance(s, dict):
        return
    if v is None:
        if s.get("nullable"):
            return
        # the real server drops nulls for non-nullable fields during pruning/defaulting
        if isinstance(parent, dict):
            del parent[key]
        return
    t = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if not isinstance(v, (int, str)) or isinstance(v, bool):
            errs.append((path, "FieldValueInvalid",
                         "Invalid value: %s: %s in body must be of type int-or-string: %s"
                         % (json.dumps(_type_name(v)), path, json.dumps(_type_name(v)))))
        return
    if t:
        actual = _type_name(v)
        ok = actual == t or (t == "number" and actual == "integer")
        if t == "integer" and isinstance(v, float) and v.is_integer():
            ok = True
        if not ok:
            errs.append((path, "FieldValueTypeInvalid",
                         "Invalid value: %s: %s in body must be of type %s: %s"
                         % (json.dumps(actual), path, t, json.dumps(actual))))
            return
    if "enum" in s and v not in s["enum"]:
        errs.append((path, "FieldValueNotSupported",
                     "Unsupported value: %s: supported values: %s"
                     % (json.dumps(v), ", ".join(json.dumps(e) for e in s["enum"]))))
    if isinstance(v, dict):
        if s.get("x-kubernetes-embedded-resource"):
            return
        props = s.get("properties")
        ap = s.get("additionalProperties")
        for k in list(v.keys()):
            if props and k in props:
                _check(v[k], props[k], path + "." + k, errs, strict, v, k)
            elif isinstance(ap, dict):
                _check(v[k], ap, path + "." + k, errs, strict, v, k)
            elif ap is True or s.get("x-kubernetes-preserve-unknown-fields"):
                continue
            elif props is None and ap is None and not t:
                continue
            else:
                if strict:
                    errs.append((path + "." + k, "UnknownField",
                                 'unknown field "%s"' % (path + "." + k)))
                else:
                    del v[k]
        for r in s.get("required") or []:
            if r not in v:
                errs.append((path + "." + r, "FieldValueRequired", "Required value"))
    elif isinstance(v, list):
        it = s.get("items")
        if isinstance(it, dict):
            for i, x in enumerate(list(v)):
                _check(x, it, "%s[%d]" % (path, i), errs, strict, None, None)
