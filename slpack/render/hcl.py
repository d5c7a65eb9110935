"""Python values as HCL expressions, for the Terraform templates.

Strings are quoted with ``${`` and ``%{`` escaped (HCL would interpolate them); an :class:`Expr`
is written as-is, for references such as ``aws_lambda_function.this.arn``.
"""

from __future__ import annotations

import json
import re
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class Expr(str):
    """An HCL expression written verbatim (a reference, a function call)."""


def quote(text: str) -> str:
    """An HCL string literal whose value is exactly ``text``."""
    body = json.dumps(text, ensure_ascii=False)
    body = body.replace("\\b", "\\u0008").replace("\\f", "\\u000c")  # JSON escapes HCL lacks
    return body.replace("${", "$${").replace("%{", "%%{")


def template(*parts: str) -> Expr:
    """An HCL string template: plain strings are literal text, :class:`Expr` parts are
    interpolated."""
    text = "".join("${" + p + "}" if isinstance(p, Expr) else quote(p)[1:-1] for p in parts)
    return Expr(f'"{text}"')


def value(v: Any, indent: int = 0) -> str:
    """``v`` as an HCL expression; nested objects are laid out one attribute per line."""
    if isinstance(v, Expr):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, (list, tuple)):
        items = [value(x, indent + 2) for x in v]
        if len(items) > 1 and any(
            "\n" in item for item in items
        ):  # one per line, as terraform fmt keeps them
            inner = " " * (indent + 2)
            return "[\n" + "".join(f"{inner}{item},\n" for item in items) + " " * indent + "]"
        return "[" + ", ".join(value(x, indent) for x in v) + "]"
    if isinstance(v, dict):
        return "{\n" + attributes(v, indent + 2) + "\n" + " " * indent + "}" if v else "{}"
    raise TypeError(f"no HCL form for {type(v).__name__}")


def _key(key: str) -> str:
    return key if _IDENT.match(key) else quote(key)


def attributes(attrs: dict[str, Any], indent: int) -> str:
    """``key = value`` lines aligned the way ``terraform fmt`` aligns them: the ``=`` of each run of
    one-line attributes in a column; an attribute whose value spans lines is not aligned and ends
    the run."""
    pad = " " * indent
    lines: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        lines.extend(f"{pad}{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for key, raw in attrs.items():
        text = value(raw, indent)
        if "\n" in text:
            flush()
            lines.append(f"{pad}{_key(key)} = {text}")
        else:
            run.append((_key(key), text))
    flush()
    return "\n".join(lines)
