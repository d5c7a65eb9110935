"""skl2onnx registrations that last for one conversion, through skl2onnx's public API.

slpack converts more than skl2onnx does out of the box (converter fixes, numpy ufuncs, outlier
detectors' companions, LightGBM and XGBoost through onnxmltools). Registering those for the
whole process would change what a user's own code gets from skl2onnx, and re-registering a
converter without its declared options makes those options unusable (TfidfTransformer's ``nan``,
a classifier's ``zipmap``). So each registration here:

- declares the options the converter it replaces declared (or its own), so
  ``convert_sklearn(options=...)`` keeps working;
- is skipped when the user registered their own converter for the class (``--converters``),
  unless it only adds a class skl2onnx lacks;
- is undone when :func:`scoped` exits, leaving skl2onnx as it was found.

Reading the current registration needs skl2onnx's name and parser maps (module attributes with
no public getter); writing goes through ``update_registered_converter`` and
``update_registered_parser`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Converter = Callable[[Any, Any, Any], None]


@dataclass(frozen=True)
class Registration:
    """One converter for one estimator class.

    ``make(previous)`` builds the converter from the one registered before (None when the class
    had none), so a fix can hand every case it does not handle to the stock converter.
    ``replaces_stock`` says the registration fixes skl2onnx's own converter: it is skipped when
    the converter in place came from elsewhere (the user's module). ``shape`` None keeps the
    registered shape calculator.
    """

    model: type
    alias: str
    make: Callable[[Converter | None], Converter]
    shape: Callable[[Any], None] | None = None
    options: dict[str, Any] | None = None
    parser: Callable[..., Any] | None = None
    replaces_stock: bool = False


@dataclass(frozen=True)
class _Saved:
    model: type
    alias: str | None
    converter: Any  # skl2onnx's RegisteredConverter, or None
    shape: Any
    parser: Any


def current(model: type) -> tuple[str | None, Any, Any]:
    """(alias, registered converter, shape calculator) for ``model``; Nones when unregistered."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter, get_shape_calculator

    alias = sklearn_operator_name_map.get(model)
    if alias is None:
        return None, None, None
    try:
        return alias, get_converter(alias), get_shape_calculator(alias)
    except ValueError:  # a name without a converter
        return alias, None, None


def is_stock(converter: Any) -> bool:
    """Whether a registered converter is skl2onnx's own (not a user's, not slpack's)."""
    fn = getattr(converter, "_fct", converter)
    return getattr(fn, "__module__", "").startswith("skl2onnx.")


@contextmanager
def scoped(registrations: list[Registration]) -> Iterator[list[str]]:
    """Register ``registrations`` for the duration of the block; yields the aliases applied."""
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import sklearn_parsers_map

    saved: list[_Saved] = []
    applied: list[str] = []
    try:
        for reg in registrations:
            alias, converter, shape = current(reg.model)
            taken = converter is not None and not (reg.replaces_stock and is_stock(converter))
            if taken:
                continue  # registered already, by skl2onnx or the user: theirs stands
            saved.append(
                _Saved(reg.model, alias, converter, shape, sklearn_parsers_map.get(reg.model))
            )
            options = reg.options
            if options is None and converter is not None:
                options = converter.get_allowed_options()
            update_registered_converter(
                reg.model,
                alias or reg.alias,
                reg.shape or shape,
                reg.make(getattr(converter, "_fct", None)),
                overwrite=True,
                parser=reg.parser,
                options=options,
            )
            applied.append(reg.alias)
        yield applied
    finally:
        for entry in reversed(saved):
            _restore(entry)


def _restore(entry: _Saved) -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import sklearn_parsers_map, update_registered_parser
    from skl2onnx._supported_operators import sklearn_operator_name_map

    if entry.alias is None or entry.converter is None:
        sklearn_operator_name_map.pop(entry.model, None)
    else:
        update_registered_converter(
            entry.model,
            entry.alias,
            entry.shape,
            entry.converter._fct,
            overwrite=True,
            options=entry.converter.get_allowed_options(),
        )
    if entry.parser is None:
        sklearn_parsers_map.pop(entry.model, None)
    else:
        update_registered_parser(entry.model, entry.parser)


def fixed(convert: Converter) -> Callable[[Converter | None], Converter]:
    """A ``Registration.make`` for a converter that does not build on the previous one."""

    def make(previous: Converter | None) -> Converter:
        return convert

    return make
