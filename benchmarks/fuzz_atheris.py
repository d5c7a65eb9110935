"""Coverage-guided fuzzing of the handler with atheris (run by hand; CI runs the hypothesis suite).

    pip install atheris
    python benchmarks/fuzz_atheris.py dist/NAME -atheris_runs=200000

Every input is tried as an HTTP body, as a Function URL event body (base64 and not), and as a
direct invocation. A crash is an uncaught exception, a 5xx, or a malformed answer; atheris then
writes the input that caused it to a ``crash-*`` file. A good request is replayed every 1000
inputs and must still answer as at the start (no poisoned state).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import zipfile
from pathlib import Path
from tempfile import mkdtemp


def _load(bundle: Path):  # type: ignore[no-untyped-def]
    task = Path(mkdtemp(prefix="slpack-fuzz-"))
    with zipfile.ZipFile(bundle / "function.zip") as zf:
        zf.extractall(task)
    os.environ.setdefault("SLPACK_METRICS", "none")
    os.environ.setdefault("SLPACK_LOG_LEVEL", "ERROR")
    sys.path.insert(0, str(task))
    import slpack_handler
    from slpack_handler.app import get_app

    return slpack_handler.handler, get_app()


def main() -> None:
    import atheris

    bundle = Path(sys.argv.pop(1))
    handler, app = _load(bundle)
    meta = json.loads(app.handle_http("GET", "/metadata", {}, b"", "m").body)
    good = {
        "instances": [
            {
                f["name"]: (f.get("categories") or [0])[0] if f["type"] != "boolean" else False
                for f in meta["input"]["features"]
            }
        ]
    }
    expected = handler(good, None)
    count = [0]

    def check_http(response: dict) -> None:  # type: ignore[type-arg]
        assert 200 <= response["statusCode"] < 500, response
        payload = json.loads(response["body"])
        assert "predictions" in payload or "model" in payload or payload["error"]["code"]

    def one_input(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
        response = app.handle_http("POST", "/", {"content-type": "application/json"}, raw, "f")
        check_http({"statusCode": response.status, "body": response.body.decode()})
        for encoded in (True, False):
            body = base64.b64encode(raw).decode() if encoded else raw.decode("utf-8", "replace")
            event = {
                "version": "2.0",
                "rawPath": "/",
                "body": body,
                "isBase64Encoded": encoded,
                "requestContext": {"http": {"method": "POST", "path": "/"}},
            }
            check_http(handler(event, None))
        try:
            direct = json.loads(raw)
        except (ValueError, RecursionError):
            direct = None
        if direct is not None:
            out = handler(direct, None)
            assert "predictions" in out or 400 <= out.get("statusCode", 0) < 500, out
        count[0] += 1
        if count[0] % 1000 == 0:
            assert handler(good, None) == expected, "state leaked into a later request"

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
