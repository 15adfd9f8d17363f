"""Label and field selectors (string syntax of the API and metav1.LabelSelector objects)."""

import re


class SelectorError(ValueError):
    pass


_KEY_RE = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?"
                     r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VAL_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _check_key(k, whole):
    if not _KEY_RE.match(k) or len(k.split("/")[-1]) > 63:
        raise SelectorError("unable to parse requirement: invalid label key \"%s\": name part "
                            "must consist of alphanumeric characters, '-', '_' or '.', and must "
                            "start and end with an alphanumeric character" % k)


def _check_val(v):
    if len(v) > 63 or not _VAL_RE.match(v):
        raise SelectorError("unable to parse requirement: values[0]: Invalid value: \"%s\": a "
                            "valid label must be an empty string or consist of alphanumeric "
                            "characters, '-', '_' or '.', and must start and end with an "
                            "alphanumeric character" % v)


def parse_label_selector(s):
    """Parse a labelSelector query string into a list of (key, op, values)."""
    reqs = []
    if s is None:
        return reqs
    for part in _split_top(s):
        m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", part)
        if m:
            k, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            vals = [v for v in vals if v != ""] if len(vals) > 1 else vals
            _check_key(k, s)
            for v in vals:
                _check_val(v)
            reqs.append((k, op, vals))
            continue
        m = re.match(r"^([^=!\s]+)\s*(==|!=|=)\s*(\S*)$", part)
        if m:
            k, op, v = m.group(1), m.group(2), m.group(3)
            _check_key(k, s)
            _check_val(v)
            reqs.append((k, "!=" if op == "!=" else "=", [v]))
            continue
        m = re.match(r"^!\s*(\S+)$", part)
        if m:
            _check_key(m.group(1), s)
            reqs.append((m.group(1), "!", []))
            continue
        m = re.match(r"^(\S+)$", part)
        if m and not re.search(r"[=!()<>]", part):
            _check_key(part, s)
            reqs.append((part, "exists", []))
            continue
        raise SelectorError("unable to parse requirement: found '%s', expected: "
                            "'=', '!=', '==', 'in', notin'" % part)
    return reqs


def label_selector_from_object(sel):
    """metav1.LabelSelector -> requirements.  None selects everything; {} too."""
    reqs = []
    if not sel:
        return reqs
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "=", [str(v)]))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = [str(x) for x in (e.get("values") or [])]
        if op == "In":
            reqs.append((e.get("key"), "in", vals))
        elif op == "NotIn":
            reqs.append((e.get("key"), "notin", vals))
        elif op == "Exists":
            reqs.append((e.get("key"), "exists", []))
        elif op == "DoesNotExist":
            reqs.append((e.get("key"), "!", []))
        else:
            raise SelectorError('"%s" is not a valid label selector operator' % op)
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for k, op, vals in reqs:
        has = k in labels
        v = labels.get(k)
        if op == "=":
            if not has or v != vals[0]:
                return False
        elif op == "!=":
            if has and v == vals[0]:
                return False
        elif op == "in":
            if not has or v not in vals:
                return False
        elif op == "notin":
            if has and v in vals:
                return False
        elif op == "exists":
            if not has:
                return False
        elif op == "!":
            if has:
                return False
    return True


def parse_field_selector(s, extra_fields=()):
    """Parse a fieldSelector; supports metadata.name, metadata.namespace and a few
    kind-specific fields given in extra_fields.  Returns list of (field, op, value)."""
    reqs = []
    if not s:
        return reqs
    allowed = {"metadata.name", "metadata.namespace"} | set(extra_fields)
    for part in _split_top(s):
        m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", part)
        if not m:
            raise SelectorError("invalid selector: '%s'; can't understand '%s'" % (s, part))
        f, op, v = m.group(1).strip(), m.group(2), m.group(3).strip()
        if f not in allowed:
            raise SelectorError("field label not supported: %s" % f)
        reqs.append((f, "!=" if op == "!=" else "=", v))
    return reqs


def _field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs, obj):
    for f, op, v in reqs:
        actual = _field_value(obj, f)
        if op == "=" and actual != v:
            return False
        if op == "!=" and actual == v:
            return False
    return True
