"""The Azure Functions adapter (Python v2 programming model): an HTTP trigger on the one core.

The rendered ``function_app.py`` registers its routes (predict, metadata, health) and hands each
``azure.functions.HttpRequest`` to :func:`answer`, which returns an
``azure.functions.HttpResponse``.
``azure.functions`` is imported on the first call only: the Azure Python worker always has it, and
the Lambda path never loads this module.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from slpack_handler.app import get_app


def answer(request: Any, context: Any = None) -> Any:
    """Translate the request into ``handle_http`` and its answer into an ``HttpResponse``.

    The request id is the invocation id (``context.invocation_id``), the id Application Insights
    files the invocation's request and traces under.
    """
    import azure.functions as func

    headers = {name.lower(): value for name, value in request.headers.items()}
    path = urlsplit(request.url).path or "/"
    invocation = getattr(context, "invocation_id", None)
    request_id = str(invocation) if invocation else None
    response = get_app().handle_http(
        request.method, path, headers, request.get_body() or b"", request_id
    )
    return func.HttpResponse(
        response.body,
        status_code=response.status,
        headers=response.headers,
        mimetype=response.headers.get("content-type"),
    )
