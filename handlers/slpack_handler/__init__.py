"""slpack_handler: the function runtime that ships inside function.zip.

Lambda handler string: ``slpack_handler.handler``. Importing this package is cheap (standard
library only); the model and its runtime's libraries load on the first request, or during init
with ``SLPACK_EAGER=1`` (provisioned concurrency), or before the snapshot under SnapStart
(:mod:`slpack_handler.snapstart`). See docs/handler.md.
"""

from __future__ import annotations

import os
from typing import Any

from slpack_handler.config import eager

__all__ = ["handler"]

_dispatch: Any = None


def handler(event: Any, context: Any) -> Any:
    """AWS Lambda entry point."""
    global _dispatch
    if _dispatch is None:
        from slpack_handler.events import dispatch

        _dispatch = dispatch
    return _dispatch(event, context)


if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    from slpack_handler import snapstart

    snapstart.register()
elif eager():
    from slpack_handler.app import get_app

    get_app().warm()
