"""The runner of arcaflow-py's inline Python steps (`kind: python`), embedded in the binary.

    python -I runner.py SOURCE FUNCTION             speak ATP v1 on stdin/stdout, like a plugin
    python -I runner.py --describe SOURCE FUNCTION  print the function's input scope as JSON

It needs nothing but the standard library (the step's own requirements are in its venv), so it
carries a small CBOR codec. As a plugin: it reads the engine's first item, sends its hello
(version 1), reads one work item {id, config}, calls FUNCTION(**config) and answers with
{output_id, output_data, debug_logs}. What the function prints goes to debug_logs; file
descriptor 1 is pointed at stderr so that nothing, not even a child process, can write into the
protocol stream. A raised exception becomes the `error` output (type, message, traceback);
returning an (output_id, data) pair picks another output.
"""

import ast
import io
import json
import math
import os
import struct
import sys
import traceback

# ---------------------------------------------------------------------------------------- CBOR


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    return bytes([major << 5 | 27]) + struct.pack(">Q", n)


def encode(v):
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        if not -(2**64) <= v < 2**64:
            raise TypeError("integer %d does not fit in 64 bits" % v)
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode("utf-8")
        return _head(3, len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        return _head(2, len(v)) + bytes(v)
    if isinstance(v, (list, tuple)):
        return _head(4, len(v)) + b"".join(encode(x) for x in v)
    if isinstance(v, dict):
        out = [_head(5, len(v))]
        for k, x in v.items():
            out.append(encode(k))
            out.append(encode(x))
        return b"".join(out)
    raise TypeError("a value of type %s cannot be sent (use dict, list, str, int, float, bool or None)" % type(v).__name__)


def _read(stream, n):
    b = stream.read(n)
    if len(b) != n:
        raise EOFError("the engine closed the connection")
    return b


def decode(stream, depth=0):
    if depth > 500:
        raise ValueError("CBOR nested too deeply")
    first = _read(stream, 1)[0]
    major, info = first >> 5, first & 31
    if major == 7:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            h = struct.unpack(">H", _read(stream, 2))[0]
            return _half(h)
        if info == 26:
            return struct.unpack(">f", _read(stream, 4))[0]
        if info == 27:
            return struct.unpack(">d", _read(stream, 8))[0]
        raise ValueError("unsupported CBOR simple value %d" % info)
    if info < 24:
        n = info
    elif info in (24, 25, 26, 27):
        n = int.from_bytes(_read(stream, 1 << (info - 24)), "big")
    else:
        raise ValueError("indefinite-length CBOR is not supported")
    if major == 0:
        return n
    if major == 1:
        return -1 - n
    if major == 2:
        return _read(stream, n)
    if major == 3:
        return _read(stream, n).decode("utf-8")
    if major == 4:
        return [decode(stream, depth + 1) for _ in range(n)]
    if major == 5:
        out = {}
        for _ in range(n):
            k = decode(stream, depth + 1)
            out[k] = decode(stream, depth + 1)
        return out
    if major == 6:
        return decode(stream, depth + 1)  # tags carry nothing we need
    raise ValueError("bad CBOR major type %d" % major)


def _half(h):
    exp, frac = (h >> 10) & 0x1F, h & 0x3FF
    sign = -1.0 if h & 0x8000 else 1.0
    if exp == 0:
        return sign * frac * 2.0**-24
    if exp == 31:
        return sign * math.inf if frac == 0 else math.nan
    return sign * (1 + frac / 1024.0) * 2.0 ** (exp - 15)


# ------------------------------------------------------------------------------------ describe

ANY = {"type_id": "any"}
SCALARS = {
    "int": {"type_id": "integer"},
    "float": {"type_id": "float"},
    "str": {"type_id": "string"},
    "bool": {"type_id": "bool"},
    "Any": ANY,
    "object": ANY,
    "list": {"type_id": "list", "items": ANY},
    "List": {"type_id": "list", "items": ANY},
    "dict": {"type_id": "map", "keys": {"type_id": "string"}, "values": ANY},
    "Dict": {"type_id": "map", "keys": {"type_id": "string"}, "values": ANY},
}
LISTS = {"list", "List", "Sequence", "Iterable", "Collection", "set", "Set", "frozenset", "FrozenSet"}
MAPS = {"dict", "Dict", "Mapping", "MutableMapping"}


def _name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_none(node):
    return isinstance(node, ast.Constant) and node.value is None or _name(node) == "NoneType"


def _union(members):
    """(type, optional) of a union: `T | None` is an optional T; any other union is `any`."""
    rest = [m for m in members if not _is_none(m)]
    optional = len(rest) < len(members)
    if len(rest) == 1:
        t, opt = type_of(rest[0])
        return t, optional or opt
    return ANY, optional


def type_of(node):
    """The Arcaflow schema type of an annotation, and whether it allows None."""
    if node is None:
        return ANY, False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return type_of(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return ANY, False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        members, stack = [], [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
                stack += [n.right, n.left]
            else:
                members.append(n)
        return _union(members)
    if isinstance(node, ast.Subscript):
        base = _name(node.value)
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Optional":
            return type_of(args[0])[0], True
        if base == "Union":
            return _union(args)
        if base == "Annotated":
            return type_of(args[0])
        if base in LISTS:
            return {"type_id": "list", "items": type_of(args[0])[0]}, False
        if base in ("tuple", "Tuple"):
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                return {"type_id": "list", "items": type_of(args[0])[0]}, False
            return {"type_id": "list", "items": ANY}, False
        if base in MAPS and len(args) == 2:
            key = type_of(args[0])[0]
            if key.get("type_id") not in ("string", "integer"):
                return ANY, False
            return {"type_id": "map", "keys": key, "values": type_of(args[1])[0]}, False
        return ANY, False
    return dict(SCALARS.get(_name(node), ANY)), False


def find_function(tree, name):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def describe(path, function):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as e:
        return {"error": "the source does not parse: %s (line %s)" % (e.msg, e.lineno)}
    fn = find_function(tree, function)
    if fn is None:
        return {"error": "the source defines no top-level function '%s'" % function}
    if isinstance(fn, ast.AsyncFunctionDef):
        return {"error": "'%s' is async; inline steps call a plain function" % function}
    a = fn.args
    if a.posonlyargs:
        return {"error": "'%s' has positional-only parameters; inputs are passed by name" % function}
    positional = a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    params = list(zip(positional, defaults)) + list(zip(a.kwonlyargs, a.kw_defaults))
    properties = {}
    for arg, default in params:
        t, optional = type_of(arg.annotation)
        prop = {"type": t, "required": default is None and not optional}
        properties[arg.arg] = prop
    scope = {"root": "Input", "objects": {"Input": {"id": "Input", "properties": properties}}}
    return {"input": scope, "varkw": a.kwarg is not None}


# ----------------------------------------------------------------------------------------- run


def coerce(value, annotation):
    """Ints for float parameters become floats: the engine's numbers keep their wire type."""
    t, _ = type_of(annotation)
    if t.get("type_id") == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if t.get("type_id") == "list" and isinstance(value, list) and t["items"].get("type_id") == "float":
        return [float(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in value]
    return value


def plain(v, at="output"):
    """The value as dicts, lists and scalars, or a TypeError naming where it is not."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [plain(x, "%s[%d]" % (at, i)) for i, x in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, (str, int)):
                raise TypeError("%s has a key of type %s (keys must be str or int)" % (at, type(k).__name__))
            out[k] = plain(x, "%s.%s" % (at, k))
        return out
    raise TypeError("%s is a %s (return dicts, lists, str, int, float, bool or None)" % (at, type(v).__name__))


def call(path, function, config, logs):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    module = {"__name__": "__arcaflow_inline__", "__file__": path}
    code = compile(text, path, "exec")
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = logs
    try:
        exec(code, module)
        fn = module.get(function)
        if not callable(fn):
            raise NameError("the source defines no function '%s'" % function)
        tree = find_function(ast.parse(text), function)
        notes = {}
        if tree is not None:
            for arg in tree.args.args + tree.args.kwonlyargs:
                notes[arg.arg] = arg.annotation
        kwargs = {k: coerce(v, notes.get(k)) for k, v in config.items()}
        result = fn(**kwargs)
    finally:
        sys.stdout, sys.stderr = out, err
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str):
        output_id, data = result
    else:
        output_id, data = "success", result
    data = plain(data)
    if not isinstance(data, dict):
        raise TypeError(
            "%s returned a %s; an output must be a dict (return a dict, or an (output_id, dict) pair)"
            % (function, type(data).__name__)
        )
    return output_id, data


def user_traceback(e):
    """The traceback without the runner's own frames: it starts in the step's code."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename != __file__]
    text = "Traceback (most recent call last):\n" if frames else ""
    text += "".join(traceback.format_list(frames))
    return text + "".join(traceback.format_exception_only(type(e), e))


def serve(path, function):
    stdin = sys.stdin.buffer
    # The protocol stream is a private copy of fd 1; fd 1 itself now goes to stderr, so prints
    # from C code or child processes cannot corrupt it.
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    decode(stdin)  # the engine's first item
    hello = {"version": 1, "schema": {"steps": {"main": {"id": "main"}}}}
    proto.write(encode(hello))
    proto.flush()
    work = decode(stdin)
    config = work.get("config") if isinstance(work, dict) else None
    logs = io.StringIO()
    try:
        if not isinstance(config, dict):
            raise TypeError("the step input must be a map, got %s" % type(config).__name__)
        output_id, data = call(path, function, config, logs)
    except (Exception, SystemExit) as e:  # everything the step raises is its error output
        output_id = "error"
        data = {"type": type(e).__name__, "message": str(e), "traceback": user_traceback(e)}
    proto.write(encode({"output_id": output_id, "output_data": data, "debug_logs": logs.getvalue()}))
    proto.flush()


def main(argv):
    if len(argv) == 4 and argv[1] == "--describe":
        print(json.dumps(describe(argv[2], argv[3])))
        return 0
    if len(argv) == 3:
        serve(argv[1], argv[2])
        return 0
    sys.stderr.write(__doc__)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
