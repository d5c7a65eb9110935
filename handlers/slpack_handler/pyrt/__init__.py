"""The dependency-free Python runtime: evaluate a compiled ONNX graph with the standard library.

``load(data)`` reads a program compiled at build time by ``slpack.pycompile`` and returns a
:class:`Program` whose ``run`` answers feeds the way onnxruntime's ``session.run`` does, nested
lists in place of numpy arrays. No numpy, no onnxruntime: a function answers with the bare
interpreter's cold start and memory. Importing this package imports only the loader; each kernel
module is imported when a program uses it.
"""

from __future__ import annotations

from slpack_handler.pyrt.program import Program, ProgramError, load

__all__ = ["Program", "ProgramError", "load"]
