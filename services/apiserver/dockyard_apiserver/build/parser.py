"""Dockerfile parsing, after moby/buildkit's frontend/dockerfile/parser and instructions
packages (the classic builder's rules): parser directives, line continuation with the escape
character, comments, instruction splitting, builder flags, JSON vs shell forms, stages."""

import json
import re
from dataclasses import dataclass, field

from dockyard_common import errors

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_WS = re.compile(r"[ \t\r\n\v\f]+")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")

KNOWN = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
         "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")
_FLAGS = {"ADD": ("chown", "chmod"), "COPY": ("chown", "from", "chmod"), "FROM": ("platform",),
          "RUN": (), "HEALTHCHECK": ("interval", "timeout", "start-period", "start-interval", "retries")}


class ParseError(errors.InvalidArgument):
    def __init__(self, line, message):
        super().__init__("dockerfile parse error line %d: %s" % (line, message))


@dataclass
class Instruction:
    name: str                 # upper case: "RUN"
    original: str             # the logical line, as "Step n/m : ..." prints it
    line: int                 # 1-based line where it starts
    rest: str = ""            # the arguments after the flags, unprocessed
    flags: dict = field(default_factory=dict)
    args: object = None       # instruction-specific (see _parse_args)
    json_form: bool = False

    def __str__(self):
        return self.original


@dataclass
class Stage:
    index: int
    base: str                 # the FROM image (unexpanded)
    name: str                 # "" when unnamed
    source: Instruction
    commands: list = field(default_factory=list)


@dataclass
class Dockerfile:
    escape: str
    meta_args: list           # ARG instructions before the first FROM
    stages: list


class NoInstructions(errors.InvalidArgument):
    """A Dockerfile without any stage (the builder names the file in the message)."""


def parse(text):
    """Parse a Dockerfile (str); raises ParseError (400) with Docker's message."""
    escape = "\\"
    # Docker splits on "\n" only (bufio.ScanLines, dropping one trailing "\r"); str.splitlines
    # would also break on form feeds, U+2028 etc. inside instructions.
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    i = 0
    # Parser directives: only at the very top, before any other line.
    seen = set()
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i].strip())
        if not m or m.group(1).lower() not in ("escape", "syntax", "check"):
            break
        key = m.group(1).lower()
        if key in seen:
            raise ParseError(i + 1, "only one %s parser directive can be used" % key)
        seen.add(key)
        if key == "escape":
            if m.group(2) not in ("\\", "`"):
                raise ParseError(i + 1, "invalid ESCAPE '%s'. Must be ` or \\" % m.group(2))
            escape = m.group(2)
        i += 1
    cont = re.compile(re.escape(escape) + r"[ \t]*$")
    nodes = []
    while i < len(lines):
        raw = lines[i].lstrip(" \t")
        i += 1
        start = i
        if not raw.strip() or raw.startswith("#"):
            continue
        line, ended = _trim_continuation(raw, cont)
        while not ended and i < len(lines):
            nxt = lines[i]
            i += 1
            if nxt.lstrip(" \t").startswith("#"):
                continue
            if not nxt.strip():
                continue  # empty continuation line (Docker warns, still accepts)
            part, ended = _trim_continuation(nxt, cont)
            line += part
        if not line.strip():
            continue
        nodes.append(_node(line.strip(), start, escape))
    return _stages(nodes, escape)


def _trim_continuation(line, cont):
    m = cont.search(line)
    if m:
        return line[:m.start()], False
    return line, True


def _node(line, lineno, escape):
    parts = _WS.split(line, 1)
    name = parts[0].upper()
    rest = parts[1] if len(parts) > 1 else ""
    if name not in KNOWN:
        raise ParseError(lineno, "unknown instruction: %s" % parts[0].upper())
    inst = Instruction(name=name, original=line, line=lineno)
    rest, flags = _extract_flags(rest)
    allowed = _FLAGS.get(name, ())
    for key in flags:
        if key not in allowed:
            if name == "RUN" and key in ("mount", "network", "security"):
                raise ParseError(lineno, "the --%s option requires BuildKit. Refer to "
                                 "https://docs.docker.com/go/buildkit/ to learn how to build images "
                                 "with BuildKit enabled" % key)
            raise ParseError(lineno, "unknown flag: %s" % key)
    inst.flags, inst.rest = flags, rest
    try:
        _parse_args(inst, escape)
    except errors.InvalidArgument as exc:
        if isinstance(exc, ParseError):
            raise
        raise ParseError(lineno, exc.message) from None
    return inst


def _extract_flags(rest):
    flags = {}
    text = rest.lstrip()
    while text.startswith("--"):
        m = _WS.search(text)
        word, tail = (text[:m.start()], text[m.end():]) if m else (text, "")
        if word == "--":
            text = tail.lstrip()
            break
        key, eq, value = word[2:].partition("=")
        if not key:
            break
        if not eq:
            value = "true"  # a bare boolean flag
        flags[key.lower()] = _unquote(value)
        text = tail.lstrip()
    return text, flags


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def exec_form_args(rest):
    """The exec (JSON array of strings) form of an instruction's arguments, or None."""
    text = rest.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value
    return None


def parse_words(rest, escape="\\"):
    """Split on whitespace, keeping quoted sections (and their quotes) together (moby parseWords)."""
    words, cur, quote, blank = [], [], None, True
    i = 0
    while i < len(rest):
        ch = rest[i]
        if quote is None and ch in " \t\r\n":
            if not blank:
                words.append("".join(cur))
                cur, blank = [], True
            i += 1
            continue
        blank = False
        if ch == escape and i + 1 < len(rest) and quote != "'":
            cur.append(ch + rest[i + 1])
            i += 2
            continue
        if quote is None and ch in "\"'":
            quote = ch
        elif ch == quote:
            quote = None
        cur.append(ch)
        i += 1
    if not blank:
        words.append("".join(cur))
    return words


def _name_values(inst, escape):
    words = parse_words(inst.rest, escape)
    if not words:
        raise errors.InvalidArgument("%s requires at least one argument" % inst.name)
    if "=" not in words[0]:
        parts = _WS.split(inst.rest.strip(), 1)
        if len(parts) < 2 or not parts[1]:
            raise errors.InvalidArgument("%s must have two arguments" % inst.name)
        return [(parts[0], parts[1])]
    out = []
    for w in words:
        if "=" not in w:
            raise errors.InvalidArgument("Syntax error - can't find = in %s. Must be of the form: name=value" % json.dumps(w))
        k, _, v = w.partition("=")
        if not k:
            raise errors.InvalidArgument("%s names can not be blank" % inst.name)
        out.append((k, v))
    return out


def _parse_args(inst, escape):
    name, rest = inst.name, inst.rest.strip()
    if name in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        items = exec_form_args(rest)
        if items is not None:
            inst.args, inst.json_form = items, True
        elif name == "SHELL":
            raise errors.InvalidArgument("SHELL requires the arguments to be in JSON form")
        else:
            inst.args = rest
        if name == "RUN" and not rest:
            raise errors.InvalidArgument("RUN requires at least one argument")
        if name == "SHELL" and not inst.args:
            raise errors.InvalidArgument("SHELL requires at least one argument")
    elif name in ("ENV", "LABEL"):
        inst.args = _name_values(inst, escape)
    elif name == "ARG":
        words = parse_words(rest, escape)
        if not words:
            raise errors.InvalidArgument("ARG requires at least one argument")
        pairs = []      # one ARG may declare several (dockerd 20.10's parseArg loop)
        for word in words:
            k, eq, v = word.partition("=")
            if not k:
                raise errors.InvalidArgument("ARG names can not be blank")
            pairs.append((k, v if eq else None))
        inst.args = pairs
    elif name in ("COPY", "ADD"):
        items = exec_form_args(rest)
        inst.json_form = items is not None
        items = items if items is not None else [w for w in _WS.split(rest) if w]
        if len(items) < 2:
            raise errors.InvalidArgument("%s requires at least two arguments, but only one was provided. "
                                         "Destination could not be determined." % name)
        inst.args = items
    elif name == "VOLUME":
        items = exec_form_args(rest)
        inst.args = items if items is not None else [w for w in _WS.split(rest) if w]
        if not inst.args:
            raise errors.InvalidArgument("VOLUME requires at least one argument")
    elif name == "EXPOSE":
        inst.args = [w for w in _WS.split(rest) if w]
        if not inst.args:
            raise errors.InvalidArgument("EXPOSE requires at least one argument")
    elif name in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
        if not rest:
            raise errors.InvalidArgument("%s requires exactly one argument" % name)
        inst.args = rest
    elif name == "FROM":
        words = [w for w in _WS.split(rest) if w]
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise errors.InvalidArgument("FROM requires either one or three arguments")
        stage = words[2].lower() if len(words) == 3 else ""
        if stage and not _STAGE_NAME.match(stage):
            raise errors.InvalidArgument("invalid name for build stage: %s, name can't start with a "
                                         "number or contain symbols" % json.dumps(words[2]))
        inst.args = (words[0], stage)
    elif name == "HEALTHCHECK":
        if not rest:
            raise errors.InvalidArgument("HEALTHCHECK requires at least one argument")
        inst.args = rest
    elif name == "ONBUILD":
        if not rest:
            raise errors.InvalidArgument("ONBUILD requires at least one argument")
        trigger = _WS.split(rest, 1)[0].upper()
        if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
            raise errors.InvalidArgument("%s isn't allowed as an ONBUILD trigger" % trigger)
        _node(rest, inst.line, escape)  # the trigger must itself parse
        inst.args = rest


def parse_trigger(text, escape="\\"):
    """An ONBUILD trigger line of a base image, parsed as an instruction."""
    return _node(text.strip(), 0, escape)


def _stages(nodes, escape):
    meta, stages = [], []
    for inst in nodes:
        if inst.name == "FROM":
            base, name = inst.args
            stages.append(Stage(index=len(stages), base=base, name=name, source=inst))
        elif not stages:
            if inst.name != "ARG":
                raise ParseError(inst.line, "no build stage in current context")
            meta.append(inst)
        else:
            stages[-1].commands.append(inst)
    if not stages:
        raise NoInstructions("file with no instructions")
    return Dockerfile(escape=escape, meta_args=meta, stages=stages)
