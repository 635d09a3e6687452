"""Go encoding/json's wording for bad JSON: clients (and Docker's tests) match on these messages.
One place for the apiserver's request bodies and the seccomp profile decoder."""

_GO_CONTEXT = {
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting value": "looking for beginning of value",
    "Expecting ',' delimiter": "after object key:value pair",
    "Expecting ':' delimiter": "after object key",
    "Extra data": "after top-level value",
    "Invalid control character at": "in string literal",
}


def syntax_error(exc, doc):
    """The message Go gives for the json.JSONDecodeError `exc` of `doc`."""
    if exc.pos >= len(doc.rstrip()):
        return "unexpected end of JSON input"
    ch = doc[exc.pos]
    context = next((v for k, v in _GO_CONTEXT.items() if exc.msg.startswith(k)),
                   "looking for beginning of value")
    if context == "after object key:value pair" and doc.lstrip().startswith("["):
        context = "after array element"
    return "invalid character %r %s" % (ch, context)


def json_kind(value):
    """The JSON kind Go names in "cannot unmarshal <kind> into ..." errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"
