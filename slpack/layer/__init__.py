"""``slpack layer``: a slim numpy + onnxruntime Lambda layer for a target runtime and architecture.

The pieces, one concern each: ``target`` (runtime facts and platform tags), ``spec`` (the
declarative trim rules in ``layers/``), ``resolve`` (pip, index or wheelhouse), ``install``
(wheels or this environment into a staging folder), ``trim``, ``verify`` (tags, layout, ELF),
``smoke`` (an isolated import and inference), ``sizes`` (limits and the report), ``builder``
(the cache and the lock file) and ``image`` (the container-image alternative).
"""

from slpack.layer.builder import LayerResult, build_layer

__all__ = ["LayerResult", "build_layer"]
