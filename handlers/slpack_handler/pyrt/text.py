"""Text kernels: StringNormalizer, com.microsoft Tokenizer, TfIdfVectorizer.

The compiler turns the n-gram pool into a trie of dicts (token -> [output column + 1, children])
so counting walks each start position once per skip distance, as onnxruntime's
tfidfvectorizer.cc does. Regular expressions are compiled with ``re.ASCII``: onnxruntime's RE2
gives ``\\w``, ``\\d``, ``\\s`` and ``\\b`` their ASCII meaning.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from slpack_handler.pyrt.tensor import Tensor

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def string_normalizer(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """StringNormalizer in the C locale: stopwords out, then ASCII case change."""
    action = params.get("case_change_action", "NONE")
    sensitive = params.get("is_case_sensitive", 0)
    stops = params.get("stopwords", [])
    stopset = set(stops) if sensitive else {s.translate(_ASCII_LOWER) for s in stops}
    table = {"LOWER": _ASCII_LOWER, "UPPER": _ASCII_UPPER}.get(action)

    def keep(s: str) -> bool:
        return (s if sensitive else s.translate(_ASCII_LOWER)) not in stopset

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        values = [s for s in data if keep(s)] if stopset else list(data)
        if table is not None:
            values = [s.translate(table) for s in values]
        if not values:
            return [""], (1,) if len(shape) == 1 else (1, 1)
        return values, (len(values),) if len(shape) == 1 else (1, len(values))

    return kernel


def tokenizer(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """Tokenizer: regex matches (tokenexp) or the pieces between separators, shorter than
    ``mincharnum`` dropped, optional start/end marks, rows padded with ``pad_value``."""
    pad = params.get("pad_value", "#")
    mincharnum = params.get("mincharnum", 1)
    mark = params.get("mark", 0)
    if params.get("tokenexp") is not None:
        pattern = re.compile(params["tokenexp"], re.ASCII)
        split: Callable[[str], list[str]] = lambda s: [  # noqa: E731
            m.group(0) for m in pattern.finditer(s)
        ]
    else:
        seps = params.get("separators", [])
        splitter = re.compile("|".join(seps), re.ASCII) if seps else None
        split = splitter.split if splitter is not None else (lambda s: [s])

    def tokens(s: str) -> list[str]:
        found = [t for t in split(s) if len(t) >= mincharnum]
        return ["\x02", *found, "\x03"] if mark else found

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        rows = [tokens(s) for s in data]
        width = max((len(r) for r in rows), default=0)
        out = [t for r in rows for t in r + [pad] * (width - len(r))]
        return out, (*shape, width)

    return kernel


def _count(
    tokens: list[Any], trie: dict[Any, Any], counts: list[int], lo: int, hi: int, skips: int
) -> None:
    """Add the pool n-grams of one row to ``counts``, as onnxruntime walks them."""
    size = len(tokens)
    start_n = lo
    for skip in range(1, skips + 2):
        for start in range(size):
            if start + skip * (start_n - 1) >= size:
                break
            node = trie
            pos = start
            for n in range(1, hi + 1):
                if pos >= size:
                    break
                hit = node.get(tokens[pos])
                if hit is None:
                    break
                if n >= start_n and hit[0]:
                    counts[hit[0] - 1] += 1
                node = hit[1]
                pos += skip
        if start_n == 1:
            start_n = 2
            if start_n > hi:
                break


def tfidf(op: str, params: dict[str, Any]) -> Callable[[Tensor], Tensor]:
    """TfIdfVectorizer: n-gram counts (TF), weights of the present n-grams (IDF), or both."""
    trie, width = params["trie"], params["width"]
    lo, hi, skips = params["min_gram_length"], params["max_gram_length"], params["max_skip_count"]
    weights, mode = params["weights"], params["mode"]

    def kernel(x: Tensor) -> Tensor:
        data, shape = x
        cols = shape[-1] if shape else 0
        rows = 1 if len(shape) < 2 else shape[0]
        out: list[float] = []
        for r in range(rows):
            counts = [0] * width
            _count(data[r * cols : (r + 1) * cols], trie, counts, lo, hi, skips)
            if mode == "TF":
                out.extend(map(float, counts))
            elif mode == "IDF":
                out.extend(w if c else 0.0 for c, w in zip(counts, weights))
            else:
                out.extend(c * w for c, w in zip(counts, weights))
        return out, (width,) if len(shape) < 2 else (rows, width)

    return kernel
