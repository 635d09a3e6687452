"""Type checks for decoded JSON request bodies, failing the way Go's encoding/json does.

dockerd decodes every body into Go structs, so a wrong JSON type anywhere (`"Cmd": 5`,
`"Memory": "lots"`, `"Labels": [1]`) fails before anything happens, with a message such as
`json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64`.
The routers and backend here take bodies as plain dicts; checking them against a declared
shape (api_types.py) first means no handler ever sees a value of the wrong type.

As in Go: null is accepted anywhere, unknown fields are ignored, and the first mismatch in
document order is reported. A null inside a list or map becomes the element's zero value
("" for a string, as Go decodes `"Env": [null]`), so no handler meets a None element. dockerd answers some of these with 500; we
answer 400 (they are the client's mistakes).
"""

from dockyard_common import errors
from dockyard_common.gojsonerrors import json_kind


class GoType:
    """A Go type: `go` is its name in messages; check() raises InvalidArgument."""

    zero = None

    def __init__(self, go):
        self.go = go

    def check(self, value, ctx):
        raise NotImplementedError

    def zero_value(self):
        return self.zero() if callable(self.zero) else self.zero


class _Ctx:
    """Where a value sits: the innermost struct's name and the dotted field path."""

    def __init__(self, struct="", path=()):
        self.struct, self.path = struct, path

    def field(self, struct, name):
        return _Ctx(struct, self.path + (name,))

    def fail(self, value, typ, literal=False):
        kind = json_kind(value)
        if literal and kind == "number":
            kind = "number %s" % _number_text(value)
        if self.path:
            where = "Go struct field %s.%s" % (self.struct, ".".join(self.path))
        else:
            where = "Go value"
        raise errors.InvalidArgument("json: cannot unmarshal %s into %s of type %s" % (kind, where, typ.go))


def _number_text(value):
    return repr(value) if isinstance(value, float) else str(value)


class String(GoType):
    zero = ""

    def __init__(self, go="string"):
        super().__init__(go)

    def check(self, value, ctx):
        if value is not None and not isinstance(value, str):
            ctx.fail(value, self)


class Bool(GoType):
    zero = False

    def __init__(self, go="bool"):
        super().__init__(go)

    def check(self, value, ctx):
        if value is not None and not isinstance(value, bool):
            ctx.fail(value, self)


class Int(GoType):
    """A Go integer type of `bits` bits, signed or not (`int` and `uint` are 64-bit)."""
    zero = 0

    def __init__(self, go, bits=64, signed=True):
        super().__init__(go)
        if signed:
            self.lo, self.hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        else:
            self.lo, self.hi = 0, (1 << bits) - 1

    def check(self, value, ctx):
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            ctx.fail(value, self)
        if isinstance(value, float) or not self.lo <= value <= self.hi:
            ctx.fail(value, self, literal=True)   # 1.5, 1e30, -1 for a uint


class Float(GoType):
    zero = 0.0

    def __init__(self, go="float64"):
        super().__init__(go)

    def check(self, value, ctx):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            ctx.fail(value, self)


class Any(GoType):
    """interface{} / json.RawMessage: anything goes."""

    def __init__(self, go="interface {}"):
        super().__init__(go)

    def check(self, value, ctx):
        pass


class List(GoType):
    def __init__(self, elem, go=None, size=None):
        super().__init__(go or (("[%d]" % size if size else "[]") + elem.go.lstrip("*")))
        self.elem = elem

    def check(self, value, ctx):
        if value is None:
            return
        if not isinstance(value, list):
            ctx.fail(value, self)
        for i, item in enumerate(value):
            if item is None:
                value[i] = self.elem.zero_value()
            else:
                self.elem.check(item, ctx)


class Map(GoType):
    """map[string]elem (JSON object keys are always strings)."""

    def __init__(self, elem, go=None):
        super().__init__(go or "map[string]" + elem.go)
        self.elem = elem

    def check(self, value, ctx):
        if value is None:
            return
        if not isinstance(value, dict):
            ctx.fail(value, self)
        for key, item in value.items():
            if item is None:
                value[key] = self.elem.zero_value()
            else:
                self.elem.check(item, ctx)


class EmptyStruct(GoType):
    """struct {} (the values of a set such as ExposedPorts): any object."""
    zero = dict

    def __init__(self):
        super().__init__("struct {}")

    def check(self, value, ctx):
        if value is not None and not isinstance(value, dict):
            ctx.fail(value, self)


class StrSlice(GoType):
    """strslice.StrSlice: a string or a list of strings. Its UnmarshalJSON reports the last
    attempt (as a string) for the whole value."""

    def __init__(self):
        super().__init__("string")

    def check(self, value, ctx):
        if value is None or isinstance(value, str):
            return
        if not (isinstance(value, list) and all(v is None or isinstance(v, str) for v in value)):
            ctx.fail(value, self)
        value[:] = ["" if v is None else v for v in value]


class Struct(GoType):
    """A Go struct: `name` (as in "Go struct field <name>.X"), `go` (as in "of type <go>"),
    fields {json name: GoType}. Embedded structs are flattened into `fields` by the caller."""
    zero = dict

    def __init__(self, name, go, fields):
        super().__init__(go)
        self.name, self.fields = name, fields
        self._folded = {k.lower(): (k, t) for k, t in fields.items()}

    def check(self, value, ctx):
        if value is None:
            return
        if not isinstance(value, dict):
            ctx.fail(value, self)
        for key, item in value.items():
            # Go matches field names case-insensitively (and reports its own spelling)
            name, typ = (key, self.fields[key]) if key in self.fields else \
                self._folded.get(key.lower(), (key, None))
            if typ is not None:
                typ.check(item, ctx.field(self.name, name))


def check(value, typ):
    """Raise InvalidArgument (Go's message) unless `value` (decoded JSON) fits `typ`."""
    typ.check(value, _Ctx())
    return value
