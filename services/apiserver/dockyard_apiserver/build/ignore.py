""".dockerignore, with the rules of moby's fileutils.PatternMatcher: one pattern per line, `#`
comments, `!` re-includes, `*` `?` `[...]` within a path element, `**` across elements; a path
is excluded when it or one of its parent directories matches; the last matching pattern wins."""

import posixpath
import re


def read_patterns(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line)
    return out


class _Pattern:
    def __init__(self, text):
        self.exclusion = text.startswith("!")
        if self.exclusion:
            text = text[1:].strip()
        text = posixpath.normpath(text) if text else text
        text = text.lstrip("/") or "."
        self.text = text
        self.dirs = text.split("/")
        self.regex = re.compile(_to_regex(text))

    def match(self, path):
        return self.regex.match(path) is not None


def _to_regex(pattern):
    out, i = ["^"], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1:i + 2] == "*":
                i += 1
                if pattern[i + 1:i + 2] == "/":
                    i += 1
                    out.append("(.*/)?" if i + 1 < len(pattern) else ".*")
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("^"):
                    body = "!" + body[1:]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


class Matcher:
    def __init__(self, patterns):
        self.patterns = [_Pattern(p) for p in patterns if p.strip("!").strip()]

    def __bool__(self):
        return bool(self.patterns)

    def excluded(self, path):
        """`path`: relative to the context root, "/"-separated."""
        path = posixpath.normpath(path).lstrip("/")
        parents = path.split("/")[:-1]
        matched = False
        for p in self.patterns:
            hit = p.match(path)
            if not hit and parents and len(p.dirs) <= len(parents):
                hit = p.match("/".join(parents[:len(p.dirs)]))
            if hit:
                matched = not p.exclusion
        return matched

    def may_include_below(self, directory):
        """Whether an excluded directory can still hold re-included files (a `!` pattern
        below it), so its walk cannot be skipped."""
        prefix = directory.rstrip("/") + "/"
        return any(p.exclusion and (p.text.startswith(prefix) or "*" in p.text) for p in self.patterns)
