"""Variable substitution in Dockerfile words (moby's shell.Lex.ProcessWord): $VAR, ${VAR},
${VAR:-default}, ${VAR:+alternative}, single/double quotes and the escape character. Quotes are
removed, as Docker does for ENV/LABEL/COPY/WORKDIR/... arguments."""

import re

from dockyard_common import errors

_NAME = re.compile(r"[A-Za-z0-9_]")


class Lex:
    def __init__(self, escape="\\"):
        self.escape = escape

    def process_word(self, word, env):
        """`env`: a dict (or list of "K=V") used for substitution; unknown names expand to ""."""
        if not isinstance(env, dict):
            env = env_dict(env)
        self._env = env
        self._s, self._i = word, 0
        return self._process(stop=None)

    # ---------------------------------------------------------------- scanner
    def _peek(self):
        return self._s[self._i] if self._i < len(self._s) else ""

    def _next(self):
        ch = self._peek()
        self._i += 1 if ch else 0
        return ch

    def _process(self, stop):
        out = []
        while self._i < len(self._s):
            ch = self._peek()
            if stop is not None and ch == stop:
                break
            if ch == "'":
                self._next()
                out.append(self._single_quoted())
            elif ch == '"':
                self._next()
                out.append(self._double_quoted())
            elif ch == "$":
                out.append(self._dollar())
            elif ch == self.escape:
                self._next()
                nxt = self._next()
                out.append(nxt if nxt else self.escape)
            else:
                out.append(self._next())
        return "".join(out)

    def _single_quoted(self):
        end = self._s.find("'", self._i)
        if end < 0:
            raise errors.InvalidArgument("unexpected end of statement while looking for matching single-quote")
        text = self._s[self._i:end]
        self._i = end + 1
        return text

    def _double_quoted(self):
        out = []
        while True:
            if self._i >= len(self._s):
                raise errors.InvalidArgument("unexpected end of statement while looking for matching double-quote")
            ch = self._peek()
            if ch == '"':
                self._next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
            elif ch == self.escape:
                self._next()
                nxt = self._next()
                if nxt in ('"', "$", self.escape):
                    out.append(nxt)
                else:
                    out.append(self.escape + nxt)
            else:
                out.append(self._next())

    def _dollar(self):
        self._next()  # "$"
        ch = self._peek()
        if ch == "{":
            self._next()
            name = self._name()
            ch = self._next()
            if ch == "}":
                return self._env.get(name, "")
            if ch == ":":
                mod = self._next()
                word = self._process(stop="}")
                if self._next() != "}":
                    raise errors.InvalidArgument("missing '}' in variable substitution")
                value = self._env.get(name, "")
                if mod == "-":
                    return value or word
                if mod == "+":
                    return word if value else ""
                raise errors.InvalidArgument("unsupported modifier (%s) in substitution" % mod)
            raise errors.InvalidArgument("missing ':' in substitution")
        name = self._name()
        if not name:
            return "$"
        return self._env.get(name, "")

    def _name(self):
        start = self._i
        while self._i < len(self._s) and _NAME.match(self._s[self._i]):
            self._i += 1
        return self._s[start:self._i]


def env_dict(env_list):
    out = {}
    for item in env_list or ():
        k, _, v = item.partition("=")
        out[k] = v
    return out
