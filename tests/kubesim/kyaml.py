"""A small YAML reader (standard library only) for apply-patch+yaml bodies.

Covers what Kubernetes manifests use: block mappings and sequences (including compact
"- key: v" items and sequences at the same indent as their key), plain / single / double
quoted scalars (also spanning lines), block scalars (| > with chomping and indentation
indicators), flow collections ([..] {..}, also spanning lines), comments, document markers,
anchors/aliases, and YAML 1.1 scalar resolution as used by sigs.k8s.io/yaml (yes/no/on/off
are booleans, 0777 is octal, ~ is null).  Not supported: complex keys (?), tags other
than ignoring them, merge keys (<<), directives."""

import re


class YAMLError(ValueError):
    pass


_BOOL_T = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_BOOL_F = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_NULL = {"", "~", "null", "Null", "NULL"}
_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_OCT = re.compile(r"^[-+]?0[0-7_]+$")
_HEX = re.compile(r"^[-+]?0x[0-9a-fA-F_]+$")
_BIN = re.compile(r"^[-+]?0b[01_]+$")
_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?$|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")
_INF = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NINF = {"-.inf", "-.Inf", "-.INF"}
_NAN = {".nan", ".NaN", ".NAN"}


def resolve(s):
    if s in _NULL:
        return None
    if s in _BOOL_T:
        return True
    if s in _BOOL_F:
        return False
    if _INT.match(s):
        return int(s.replace("_", ""))
    if _HEX.match(s):
        return int(s.replace("_", ""), 16)
    if _OCT.match(s):
        return int(s.replace("_", ""), 8)
    if _BIN.match(s):
        return int(s.replace("_", "")[2:] if s[0] not in "+-" else s[0] + s[3:], 2)
    if _FLOAT.match(s) and any(c.isdigit() for c in s):
        return float(s.replace("_", ""))
    if s in _INF:
        return float("inf")
    if s in _NINF:
        return float("-inf")
    if s in _NAN:
        return float("nan")
    return s


_ESC = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v",
        "f": "\f", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
        "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


def _unescape_double(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in _ESC:
                out.append(_ESC[n])
                i += 2
                continue
            if n in "xuU":
                ln = {"x": 2, "u": 4, "U": 8}[n]
                out.append(chr(int(s[i + 2:i + 2 + ln], 16)))
                i += 2 + ln
                continue
            raise YAMLError("invalid escape \\%s" % n)
        out.append(c)
        i += 1
    return "".join(out)


def _fold_lines(lines, double):
    """Join the physical lines of a multi-line flow scalar (quoted or plain)."""
    out = ""
    pending_breaks = 0
    first = True
    for idx, raw in enumerate(lines):
        ln = raw if idx == 0 else raw.lstrip(" \t")
        if idx < len(lines) - 1:
            ln = ln.rstrip(" \t")
        if first:
            out = ln
            first = False
            continue
        if ln == "" and idx < len(lines) - 1:
            pending_breaks += 1
            continue
        if double and out.endswith("\\") and not out.endswith("\\\\"):
            out = out[:-1] + ln
        elif pending_breaks:
            out += "\n" * pending_breaks + ln
        else:
            out += " " + ln
        pending_breaks = 0
    if pending_breaks:
        out += "\n" * pending_breaks
    return out


class _Parser(object):
    def __init__(self, text):
        text = text.replace("\r\n", "\n").replace("\t", "    ") if "\t" in text and False \
            else text.replace("\r\n", "\n")
        self.lines = text.split("\n")
        self.i = 0
        self.anchors = {}
        # per-line overrides used for compact sequence items: line -> (indent, content)
        self.virt = {}

    # ------------------------------------------------------------- line helpers
    def line(self, i):
        if i in self.virt:
            return self.virt[i]
        raw = self.lines[i]
        stripped = raw.lstrip(" ")
        return (len(raw) - len(stripped), stripped)

    def skip_blank(self):
        while self.i < len(self.lines):
            ind, c = self.line(self.i)
            if c == "" or c.startswith("#"):
                self.i += 1
                continue
            return True
        return False

    # ------------------------------------------------------------- documents
    def documents(self):
        docs = []
        while True:
            # find start of next document
            started = False
            while self.i < len(self.lines):
                ind, c = self.line(self.i)
                if c == "" or c.startswith("#") or c.startswith("%"):
                    self.i += 1
                    continue
                if ind == 0 and (c == "---" or c.startswith("--- ")):
                    if started:
                        break
                    started = True
                    rest = c[3:].strip()
                    if rest and not rest.startswith("#"):
                        self.virt[self.i] = (4, rest)
                        break
                    self.i += 1
                    continue
                if ind == 0 and c == "...":
                    self.i += 1
                    continue
                break
            if self.i >= len(self.lines):
                if started:
                    docs.append(None)
                break
            ind, c = self.line(self.i)
            if ind == 0 and (c == "---" or c.startswith("--- ")) and self.i not in self.virt:
                docs.append(None)
                continue
            docs.append(self.parse_block(-1))
            # consume until next document marker
            while self.i < len(self.lines):
                ind, c = self.line(self.i)
                if c == "" or c.startswith("#"):
                    self.i += 1
                    continue
                if ind == 0 and (c == "---" or c.startswith("--- ") or c == "..."):
                    if c == "...":
                        self.i += 1
                    break
                raise YAMLError("line %d: unexpected content %r" % (self.i + 1, c[:40]))
        return docs

    # ------------------------------------------------------------- blocks
    def parse_block(self, parent_indent):
        """Parse the node starting at the next non-blank line whose indent > parent_indent."""
        if not self.skip_blank():
            return None
        ind, c = self.line(self.i)
        if ind <= parent_indent:
            return None
        if ind == 0 and (c == "---" or c.startswith("--- ") or c == "...") and \
                self.i not in self.virt:
            return None
        anchor = None
        if c.startswith("&"):
            m = re.match(r"&(\S+)\s*", c)
            anchor = m.group(1)
            rest = c[m.end():]
            if rest == "" or rest.startswith("#"):
                self.i += 1
                v = self.parse_block(parent_indent)
                self.anchors[anchor] = v
                return v
            self.virt[self.i] = (ind + m.end(), rest)
            c = rest
            ind = ind + m.end()
        if c.startswith("- ") or c == "-" or c.startswith("-\t"):
            v = self.parse_seq(ind)
        elif c[0] in "|>":
            v = self.parse_block_scalar(parent_indent, c)
        elif self._key_split(c) is not None:
            v = self.parse_map(ind)
        else:
            v = self.parse_scalar_lines(ind, c, parent_indent)
        if anchor:
            self.anchors[anchor] = v
        return v

    def parse_seq(self, ind):
        out = []
        while self.i < len(self.lines):
            if not self.skip_blank():
                break
            li, c = self.line(self.i)
            if li != ind or not (c.startswith("- ") or c == "-" or c.startswith("-\t")):
                if li > ind:
                    raise YAMLError("line %d: bad indentation of a sequence entry"
                                    % (self.i + 1))
                break
            rest = c[1:]
            stripped = rest.lstrip(" ")
            if stripped == "" or stripped.startswith("#"):
                self.i += 1
                out.append(self.parse_block(ind))
            else:
                self.virt[self.i] = (ind + 1 + len(rest) - len(stripped), stripped)
                out.append(self.parse_block(ind))
        return out

    def parse_map(self, ind):
        out = {}
        while self.i < len(self.lines):
            if not self.skip_blank():
                break
            li, c = self.line(self.i)
            if li != ind:
                if li > ind:
                    raise YAMLError("line %d: bad indentation of a mapping entry"
                                    % (self.i + 1))
                break
            if li == 0 and (c == "---" or c.startswith("--- ") or c == "...") and \
                    self.i not in self.virt:
                break
            ks = self._key_split(c)
            if ks is None:
                raise YAMLError("line %d: could not find expected ':'" % (self.i + 1))
            key, rest, rest_col = ks
            if key == "<<":
                raise YAMLError("line %d: merge keys are not supported" % (self.i + 1))
            out[key] = self.parse_value(ind, rest, ind + rest_col)
        return out

    def parse_value(self, ind, rest, col):
        """Value after 'key:' on line self.i (rest is the text after the colon)."""
        r = rest.lstrip(" ")
        col += len(rest) - len(r)
        anchor = None
        if r.startswith("&"):
            m = re.match(r"&(\S+)\s*", r)
            anchor = m.group(1)
            r = r[m.end():]
            col += m.end()
        raw = False
        if r.startswith("!"):
            m = re.match(r"!\S*\s*", r)
            raw = m.group(0).strip() in ("!!str", "!<tag:yaml.org,2002:str>")
            r = r[m.end():]
            col += m.end()
        if r == "" or r.startswith("#"):
            self.i += 1
            if not self.skip_blank():
                v = None
            else:
                li, c = self.line(self.i)
                if li > ind:
                    v = self.parse_block(ind)
                elif li == ind and (c.startswith("- ") or c == "-"):
                    v = self.parse_seq(ind)
                else:
                    v = None
        elif r[0] in "|>":
            v = self.parse_block_scalar(ind, r)
        elif r.startswith("*"):
            name = r[1:].split()[0]
            if name not in self.anchors:
                raise YAMLError("line %d: unknown anchor %s" % (self.i + 1, name))
            v = self.anchors[name]
            self.i += 1
        else:
            v = self.parse_scalar_lines(col, r, ind, raw)
        if anchor:
            self.anchors[anchor] = v
        return v

    # ------------------------------------------------------------- scalars
    def parse_scalar_lines(self, col, text, parent_indent, as_str=False):
        """A scalar or flow collection beginning with text on line self.i."""
        if text[0] in "[{":
            buf = text
            j = self.i
            while True:
                try:
                    fp = _Flow(buf, self.anchors)
                    v = fp.value()
                    fp.ws()
                    tail = fp.s[fp.p:]
                    if tail and not tail.startswith("#"):
                        raise YAMLError("line %d: unexpected text after flow collection: %r"
                                        % (j + 1, tail[:30]))
                    self.i = j + 1
                    return v
                except _Incomplete:
                    j += 1
                    if j >= len(self.lines):
                        raise YAMLError("unterminated flow collection")
                    buf += "\n" + self.lines[j]
        if text[0] in "\"'":
            q = text[0]
            parts = [text[1:]]
            j = self.i
            while True:
                end = _find_quote_end(parts[-1], q)
                if end is not None:
                    parts[-1], tail = parts[-1][:end], parts[-1][end + 1:]
                    break
                j += 1
                if j >= len(self.lines):
                    raise YAMLError("unterminated quoted scalar")
                parts.append(self.lines[j])
            tail = tail.strip()
            if tail and not tail.startswith("#"):
                raise YAMLError("line %d: unexpected text after quoted scalar" % (j + 1))
            self.i = j + 1
            if q == "'":
                return _fold_lines(parts, False).replace("''", "'")
            return _unescape_double(_fold_lines(parts, True))
        if text.startswith("*"):
            name = text[1:].split()[0]
            self.i += 1
            return self.anchors.get(name)
        # plain scalar, maybe continued on more-indented lines
        first = _strip_comment(text)
        parts = [first]
        last = self.i
        if _strip_comment(text) == text.rstrip():
            j = self.i + 1
            blanks = 0
            while j < len(self.lines):
                raw = self.lines[j]
                st = raw.lstrip(" ")
                li = len(raw) - len(st)
                if st == "":
                    blanks += 1
                    j += 1
                    continue
                if li <= parent_indent or st.startswith("#"):
                    break
                if li == 0 and (st == "---" or st.startswith("--- ") or st == "..."):
                    break
                parts.extend([""] * blanks)
                blanks = 0
                sc = _strip_comment(st)
                parts.append(sc)
                last = j
                j += 1
                if sc != st.rstrip():
                    break
        self.i = last + 1
        s = _fold_lines(parts, False) if len(parts) > 1 else first
        return s.strip() if as_str else resolve(s.strip())

    def parse_block_scalar(self, ind, header):
        h = _strip_comment(header).strip()
        style = h[0]
        chomp = "clip"
        explicit = None
        for ch in h[1:]:
            if ch == "-":
                chomp = "strip"
            elif ch == "+":
                chomp = "keep"
            elif ch.isdigit():
                explicit = int(ch)
        self.i += 1
        lines = []
        block_ind = None
        if explicit is not None:
            block_ind = max(ind, 0) + explicit
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            st = raw.lstrip(" ")
            li = len(raw) - len(st)
            if st == "":
                lines.append("")
                self.i += 1
                continue
            if block_ind is None:
                if li <= ind:
                    break
                block_ind = li
            if li < block_ind:
                break
            lines.append(raw[block_ind:])
            self.i += 1
        # trailing blank lines
        trail = 0
        while lines and lines[-1] == "":
            lines.pop()
            trail += 1
        # give back trailing blank lines to the outer parser (harmless)
        if style == "|":
            body = "\n".join(lines)
        else:
            body = ""
            prev_more = False
            for k, ln in enumerate(lines):
                more = ln.startswith(" ") or ln == ""
                if k == 0:
                    body = ln
                elif ln == "":
                    body += "\n"
                elif more or prev_more or lines[k - 1] == "":
                    if lines[k - 1] == "" and not more and not prev_more:
                        body += ln
                    else:
                        body += "\n" + ln
                else:
                    body += " " + ln
                prev_more = ln.startswith(" ")
        if not lines:
            return "" if chomp != "keep" else "\n" * trail
        if chomp == "strip":
            return body
        if chomp == "clip":
            return body + "\n"
        return body + "\n" + "\n" * trail

    # ------------------------------------------------------------- keys
    def _key_split(self, c):
        """'key: rest' -> (key, rest, col_of_rest) or None."""
        if c.startswith(("- ", "#")) or c == "-":
            return None
        if c[0] in "\"'":
            q = c[0]
            end = _find_quote_end(c[1:], q)
            if end is None:
                return None
            key_raw = c[1:1 + end]
            after = c[2 + end:]
            a = after.lstrip(" ")
            if not a.startswith(":"):
                return None
            if len(a) > 1 and a[1] not in " \t":
                return None
            key = key_raw.replace("''", "'") if q == "'" else _unescape_double(key_raw)
            col = len(c) - len(a) + 1
            return (key, a[1:], col)
        if c[0] in "[{|>*&!%@`":
            return None
        i = 0
        n = len(c)
        while i < n:
            ch = c[i]
            if ch == ":" and (i + 1 == n or c[i + 1] in " \t"):
                key = c[:i].rstrip()
                return (str(resolve_key(key)), c[i + 1:], i + 1)
            if ch == "#" and i > 0 and c[i - 1] in " \t":
                return None
            i += 1
        return None


def resolve_key(k):
    v = resolve(k)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return k  # keep the original spelling of numeric keys
    return v


def _find_quote_end(s, q):
    i = 0
    while i < len(s):
        ch = s[i]
        if q == "'" and ch == "'":
            if i + 1 < len(s) and s[i + 1] == "'":
                i += 2
                continue
            return i
        if q == '"':
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                return i
        i += 1
    return None


def _strip_comment(s):
    i = s.find(" #")
    if s.startswith("#"):
        return ""
    if i >= 0:
        return s[:i].rstrip()
    return s.rstrip()


class _Incomplete(Exception):
    pass


class _Flow(object):
    def __init__(self, s, anchors):
        self.s = s
        self.p = 0
        self.anchors = anchors

    def ws(self):
        s = self.s
        while self.p < len(s):
            ch = s[self.p]
            if ch in " \t\n\r":
                self.p += 1
            elif ch == "#" and (self.p == 0 or s[self.p - 1] in " \t\n"):
                nl = s.find("\n", self.p)
                self.p = len(s) if nl < 0 else nl
            else:
                break

    def peek(self):
        self.ws()
        if self.p >= len(self.s):
            raise _Incomplete()
        return self.s[self.p]

    def value(self, in_map=False):
        ch = self.peek()
        if ch == "[":
            self.p += 1
            out = []
            while True:
                if self.peek() == "]":
                    self.p += 1
                    return out
                item = self.value()
                if self.peek() == ":" :
                    # single-pair mapping inside a sequence: [a: b]
                    self.p += 1
                    item = {str(item): self.value()}
                out.append(item)
                ch = self.peek()
                if ch == ",":
                    self.p += 1
                elif ch != "]":
                    raise YAMLError("expected ',' or ']' in flow sequence")
        if ch == "{":
            self.p += 1
            out = {}
            while True:
                if self.peek() == "}":
                    self.p += 1
                    return out
                k = self.value(in_map=True)
                if self.peek() == ":":
                    self.p += 1
                    if self.peek() in ",}":
                        v = None
                    else:
                        v = self.value()
                else:
                    v = None
                out[resolve_key(k) if isinstance(k, str) else str(k)] = v
                ch = self.peek()
                if ch == ",":
                    self.p += 1
                elif ch != "}":
                    raise YAMLError("expected ',' or '}' in flow mapping")
        if ch in "\"'":
            q = ch
            end = _find_quote_end(self.s[self.p + 1:], q)
            if end is None:
                raise _Incomplete()
            raw = self.s[self.p + 1:self.p + 1 + end]
            self.p += end + 2
            lines = raw.split("\n")
            if q == "'":
                return _fold_lines(lines, False).replace("''", "'")
            return _unescape_double(_fold_lines(lines, True))
        if ch == "*":
            m = re.compile(r"\*([^\s,\]\}]+)").match(self.s, self.p)
            self.p = m.end()
            return self.anchors.get(m.group(1))
        # plain scalar inside flow context
        start = self.p
        s = self.s
        while self.p < len(s):
            c = s[self.p]
            if c in ",]}":
                break
            if c == ":" and (self.p + 1 >= len(s) or s[self.p + 1] in " \t\n,]}"):
                break
            if c == "#" and s[self.p - 1] in " \t":
                break
            self.p += 1
        if self.p >= len(s):
            raise _Incomplete()
        text = " ".join(x.strip() for x in s[start:self.p].split("\n")).strip()
        if in_map:
            return text
        return resolve(text)


def load_all(text):
    return _Parser(text).documents()


def load(text):
    docs = [d for d in load_all(text)]
    docs = [d for d in docs if d is not None] or [None]
    if len(docs) > 1:
        raise YAMLError("expected a single document, found %d" % len(docs))
    return docs[0]
