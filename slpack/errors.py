"""User-facing errors.

A :class:`SlpackError` is something the user can fix; the CLI prints its message as one
sentence on stderr and exits non-zero, with no traceback. Anything else is a bug of ours and
keeps its traceback.
"""

from __future__ import annotations


class SlpackError(Exception):
    """An error the user caused and can fix; the message says what to do."""

    exit_code: int = 1


class ConversionError(SlpackError):
    """A pipeline step could not be converted to ONNX."""


class ParityError(SlpackError):
    """The ONNX model disagrees with scikit-learn beyond the tolerances."""

    exit_code = 3

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result  # the ParityResult, so the CLI can print the worst rows
