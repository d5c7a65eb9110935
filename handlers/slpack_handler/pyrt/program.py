"""Load a compiled program and run it: the whole per-request path of the Python runtime.

A program is ``MAGIC + version byte + marshal(body)``. ``marshal`` is the fastest stdlib decoder
(C speed, no imports) and reads the same bytes on every CPython from 3.9 on, but it can also
carry code objects, so :func:`load` refuses any object that is not plain data before it trusts
the body: the check walks containers with ``gc.get_referents`` and ``map(type, ...)``, which keeps
it at C speed even for forests of tens of thousands of nodes.

The body is a dict of plain data: graph inputs and outputs with the value slots they live in,
the constants to place in their slots, and the steps (operator, input slots, output slots,
parameters) in execution order. :func:`build` turns a body into kernels bound to their
parameters once; ``run`` then only moves values between slots.
"""

from __future__ import annotations

import gc
import marshal
from array import array
from importlib import import_module
from itertools import chain, compress
from typing import Any, Callable

from slpack_handler.pyrt.registry import KERNELS, MAGIC, VERSION
from slpack_handler.pyrt.tensor import Tensor, nested

_DATA = frozenset((type(None), bool, int, float, str, bytes, tuple, list, dict))
_CONTAINERS = frozenset((tuple, list, dict))
_ABSENT = object()
_LIST = {list}
_DTYPES = ("float32", "float64", "int64", "bool", "string")
Step = Callable[[list[Any]], None]


class ProgramError(ValueError):
    """The program bytes are not a program this runtime can run."""


class Body:
    """A program body made executable: constants in a slot template, and each step a closure
    that reads its input slots, calls its kernel and stores its outputs."""

    __slots__ = ("env", "steps")

    def __init__(self, env: list[Any], steps: list[Callable[[list[Any]], None]]) -> None:
        self.env = env
        self.steps = steps

    def execute(self, env: list[Any]) -> None:
        """Run every step on ``env`` (a copy of :attr:`env` with the inputs placed)."""
        for step in self.steps:
            step(env)


def _bind(kernel: Callable[..., Any], ins: tuple[int, ...], outs: tuple[int, ...]) -> Step:
    """The step as one call on the slot list. A request runs every step once, so the shapes
    that nearly every graph has (one input or two, one output or two) get closures without the
    per-call argument list and output loop of the general case."""
    if len(ins) == 1 and len(outs) == 1:
        (i,), (o,) = ins, outs

        def one(env: list[Any]) -> None:
            env[o] = kernel(env[i])

        return one
    if len(ins) == 2 and len(outs) == 1:
        (i, j), (o,) = ins, outs

        def two(env: list[Any]) -> None:
            env[o] = kernel(env[i], env[j])

        return two
    if len(ins) == 1 and len(outs) == 2:
        (i,), (o, p) = ins, outs

        def pair(env: list[Any]) -> None:
            env[o], env[p] = kernel(env[i])

        return pair

    def general(env: list[Any]) -> None:
        result = kernel(*[env[k] for k in ins])
        if len(outs) == 1:
            env[outs[0]] = result
        else:
            for slot, value in zip(outs, result):
                env[slot] = value

    return general


class Program:
    """A loaded program: ``run`` answers feeds as onnxruntime's ``session.run`` would."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.inputs: list[tuple[str, str, int | None]] = [
            (name, dtype, width) for name, dtype, width, _ in body["inputs"]
        ]
        self.outputs: list[str] = [name for name, _ in body["outputs"]]
        self._feeds = [
            (name, slot, _converter(name, dtype, width))
            for name, dtype, width, slot in body["inputs"]
        ]
        self._output_slots: dict[str, int] = dict((name, slot) for name, slot in body["outputs"])
        self._all = [slot for _, slot in body["outputs"]]
        self._asked: dict[tuple[str, ...], list[int]] = {}
        self._body = build(body)

    def run(self, feeds: dict[str, Any], outputs: list[str] | None = None) -> list[Any]:
        """Evaluate the graph on ``feeds`` (2-D row lists by input name); one value per output,
        shaped like ``numpy_array.tolist()`` of what onnxruntime returns."""
        slots = self._all if outputs is None else self._slots(outputs)
        body = self._body
        env = body.env[:]
        for name, slot, convert in self._feeds:
            rows = feeds.get(name, _ABSENT)
            if rows is _ABSENT:
                raise ValueError(f"the input {name!r} is missing")
            env[slot] = convert(rows)
        try:
            for step in body.steps:
                step(env)
        except (IndexError, KeyError, TypeError, ZeroDivisionError, OverflowError) as exc:
            raise ValueError(
                f"the model cannot evaluate this input ({type(exc).__name__} in a kernel)"
            ) from None
        return [nested(env[slot]) for slot in slots]

    def _slots(self, outputs: list[str]) -> list[int]:
        """The value slots of ``outputs`` (a runtime asks for the same list on every request)."""
        key = tuple(outputs)
        found = self._asked.get(key)
        if found is None:
            try:
                found = self._asked[key] = [self._output_slots[name] for name in outputs]
            except KeyError as exc:
                raise ValueError(f"the model has no output {exc.args[0]!r}") from None
        return found


def load(data: bytes) -> Program:
    """Read compiled program bytes (already verified against the manifest's sha256)."""
    head = len(MAGIC)
    if data[:head] != MAGIC:
        raise ProgramError("the data is not a compiled slpack program; rebuild the bundle")
    if data[head : head + 1] != bytes((VERSION,)):
        found = data[head] if len(data) > head else None
        raise ProgramError(
            f"the program has format version {found} but this runtime reads version {VERSION}; "
            "rebuild the bundle with this slpack"
        )
    try:
        body = marshal.loads(data[head + 1 :])
    except (EOFError, ValueError, TypeError) as exc:
        raise ProgramError(f"the program cannot be decoded ({exc}); rebuild the bundle") from None
    _check_data(body)
    try:
        return Program(body)
    except ProgramError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ProgramError(
            f"the program is malformed ({type(exc).__name__}: {exc}); rebuild the bundle"
        ) from None


def build(body: dict[str, Any]) -> Body:
    """Place the constants and bind every step's kernel to its parameters."""
    env: list[Any] = [None] * int(body["slots"])
    for slot, data, shape in body["constants"]:
        env[slot] = (data, tuple(shape))
    steps: list[Step] = []
    for op, ins, outs, params in body["steps"]:
        entry = KERNELS.get(op)
        if entry is None:
            raise ProgramError(f"the program uses {op}, which this runtime does not implement")
        module = import_module("slpack_handler.pyrt." + entry[0])
        steps.append(_bind(getattr(module, entry[1])(op, params), tuple(ins), tuple(outs)))
    return Body(env, steps)


def _check_data(body: Any) -> None:
    """Refuse anything but plain data (a code object above all), at C speed."""
    if type(body) is not dict:
        raise ProgramError("the program body is not a mapping; rebuild the bundle")
    frontier: list[Any] = [body]
    while frontier:
        found = gc.get_referents(*frontier)
        kinds = set(map(type, found))
        if not kinds <= _DATA:
            bad = sorted(k.__name__ for k in kinds - _DATA)
            raise ProgramError(
                f"the program holds {', '.join(bad)} objects, not plain data; it was refused"
            )
        frontier = list(compress(found, map(_CONTAINERS.__contains__, map(type, found))))


def _flat(name: str, rows: Any, width: int | None) -> tuple[list[Any], int]:
    """The values of 2-D row lists in row order, and the row width, after checking the shape:
    one row is taken as it is (the common request), more are checked and joined at C speed."""
    if type(rows) is not list or not rows:
        raise ValueError(f"the input {name!r} must be a non-empty list of rows")
    first = rows[0]
    cols = width if width is not None else len(first) if type(first) is list else -1
    if len(rows) == 1:
        if type(first) is list and len(first) == cols:
            return first, cols
    elif set(map(type, rows)) == _LIST and set(map(len, rows)) == {cols}:
        return list(chain.from_iterable(rows)), cols
    raise ValueError(f"every row of the input {name!r} must be a list of {cols} values")


def _converter(name: str, dtype: str, width: int | None) -> Callable[[Any], Tensor]:
    """Turn 2-D row lists into a flat tensor of ``dtype``, refusing what the graph cannot take.
    Numbers go through an ``array`` of the element type: one C pass that checks every value and
    rounds float32 inputs as onnxruntime's float tensor stores them."""
    if dtype not in _DTYPES:
        raise ProgramError(f"the input {name!r} has element type {dtype}, which is not supported")
    typecode = {"float32": "f", "float64": "d", "int64": "q"}.get(dtype)
    kind = bool if dtype == "bool" else str

    def convert(rows: Any) -> Tensor:
        flat, cols = _flat(name, rows, width)
        if typecode is not None:
            try:
                values = array(typecode, flat).tolist()
            except (TypeError, OverflowError):
                raise ValueError(f"the input {name!r} takes {dtype} values") from None
        elif set(map(type, flat)) <= {kind}:
            values = flat
        else:
            raise ValueError(
                f"the input {name!r} takes {'booleans' if kind is bool else 'strings'}"
            )
        return values, (len(rows), cols)

    return convert
