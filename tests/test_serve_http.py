"""The Function URL front over real HTTP on 127.0.0.1, with the stand-in function behind it."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from slpack.serve.front import FunctionUrlServer
from slpack.serve.invocation import MAX_PAYLOAD_BYTES
from slpack.serve.workers import WorkerPool

pytestmark = pytest.mark.slow


def quiet(source: str, line: str) -> None:
    """Workers' output is not under test here."""


@pytest.fixture
def serve(standin_config: Callable[..., Any]) -> Iterator[Callable[..., FunctionUrlServer]]:
    """Start a pool of stand-in workers behind a FunctionUrlServer on a free port."""
    started: list[tuple[WorkerPool, FunctionUrlServer]] = []

    def start(workers: int = 1, queue_limit: int = 8, **config: Any) -> FunctionUrlServer:
        pool = WorkerPool(
            standin_config(**config), size=workers, queue_limit=queue_limit, log=quiet
        )
        pool.start()
        server = FunctionUrlServer(pool).__enter__()
        started.append((pool, server))
        return server

    yield start
    for pool, server in started:
        server.__exit__(None, None, None)
        pool.close()


def request(
    server: FunctionUrlServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    payload = (
        json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    )
    conn.request(
        method, path, body=payload, headers={"content-type": "application/json", **(headers or {})}
    )
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def test_request_becomes_a_function_url_event(serve: Callable[..., FunctionUrlServer]) -> None:
    server = serve()
    status, headers, body = request(
        server, "POST", "/predict?x=1&x=2", {"instances": [1]}, {"Cookie": "a=b"}
    )
    assert status == 200 and headers["content-type"] == "application/json"
    echo = json.loads(body)
    event = echo["event"]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/predict" and event["queryStringParameters"] == {"x": "1,2"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["cookies"] == ["a=b"] and "cookie" not in event["headers"]
    assert json.loads(event["body"]) == {"instances": [1]}
    assert headers["x-amzn-requestid"] == echo["request_id"] == event["requestContext"]["requestId"]


def test_structured_answer_is_mapped_back(serve: Callable[..., FunctionUrlServer]) -> None:
    server = serve()
    reply = {
        "statusCode": 418,
        "headers": {"X-Tea": "earl grey"},
        "body": "short and stout",
        "cookies": ["c=1"],
    }
    status, headers, body = request(server, "POST", "/", {"reply": reply})
    assert (status, body) == (418, b"short and stout")
    assert headers["x-tea"] == "earl grey" and headers["set-cookie"] == "c=1"


def test_binary_body_reaches_the_function_base64_encoded(
    serve: Callable[..., FunctionUrlServer],
) -> None:
    server = serve()
    raw = bytes(range(256))
    status, _, body = request(
        server, "PUT", "/blob", raw, {"content-type": "application/octet-stream"}
    )
    event = json.loads(body)["event"]
    assert status == 200 and event["isBase64Encoded"] is True
    assert __import__("base64").b64decode(event["body"]) == raw


def test_chunked_request_body(serve: Callable[..., FunctionUrlServer]) -> None:
    server = serve()
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request(
        "POST",
        "/",
        body=iter([b'{"instances"', b": [42]}"]),
        encode_chunked=True,
        headers={"content-type": "application/json"},
    )
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(json.loads(response.read())["event"]["body"]) == {"instances": [42]}


def test_oversized_body_is_refused_before_reading(serve: Callable[..., FunctionUrlServer]) -> None:
    server = serve()
    with socket.create_connection(server.server_address[:2], timeout=10) as sock:
        sock.sendall(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
            f"{MAX_PAYLOAD_BYTES + 1}\r\n\r\n".encode()
        )
        answer = b"".join(
            iter(lambda: sock.recv(65536), b"")
        ).decode()  # the server closes the connection
    assert answer.startswith("HTTP/1.1 413")
    assert '"payload_too_large"' in answer


def test_body_too_large_once_base64_encoded_is_a_413(
    serve: Callable[..., FunctionUrlServer],
) -> None:
    raw = os.urandom(MAX_PAYLOAD_BYTES * 4 // 5)  # fits raw, not as base64 (4/3 larger)
    status, _, body = request(
        serve(), "POST", "/", raw, {"content-type": "application/octet-stream"}
    )
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def test_answer_past_the_payload_limit_is_a_502_and_the_worker_lives(
    serve: Callable[..., FunctionUrlServer],
) -> None:
    server = serve()
    status, _, body = request(server, "POST", "/", {"big": MAX_PAYLOAD_BYTES + 1})
    assert status == 502
    assert json.loads(body)["error"]["message"].startswith(
        "Function.ResponseSizeTooLarge: Response payload size"
    )
    assert request(server, "GET", "/")[0] == 200
    assert [w.name for w in server.pool.workers()] == ["w1"]


def test_function_error_is_a_502(serve: Callable[..., FunctionUrlServer]) -> None:
    status, _, body = request(serve(), "POST", "/", {"raise": "model exploded"})
    assert status == 502
    assert json.loads(body)["error"]["message"] == "RuntimeError: model exploded"


def test_request_past_the_timeout_is_a_504_and_the_next_one_works(
    serve: Callable[..., FunctionUrlServer],
) -> None:
    server = serve(timeout_s=0.5)
    started = time.monotonic()
    status, _, body = request(server, "POST", "/", {"sleep": 20})
    assert status == 504 and time.monotonic() - started < 2.5
    assert json.loads(body)["error"]["code"] == "function_timeout"
    assert request(server, "GET", "/health")[0] == 200


def test_worker_killed_mid_request_is_a_502_and_replaced(
    serve: Callable[..., FunctionUrlServer],
) -> None:
    server = serve(workers=1)
    pool = server.pool
    answers: list[tuple[int, dict[str, str], bytes]] = []
    caller = threading.Thread(
        target=lambda: answers.append(request(server, "POST", "/", {"sleep": 30}))
    )
    caller.start()
    deadline = time.monotonic() + 5
    while not any(w.busy for w in pool.workers()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (victim,) = pool.workers()
    os.kill(victim.pid, signal.SIGKILL)
    caller.join(timeout=5)
    status, _, body = answers[0]
    assert status == 502 and json.loads(body)["error"]["code"] == "function_crashed"
    status, _, body = request(server, "POST", "/", {"after": True})
    assert status == 200 and json.loads(body)["pid"] != victim.pid


def test_past_the_queue_bound_requests_get_429(serve: Callable[..., FunctionUrlServer]) -> None:
    server = serve(workers=1, queue_limit=0)
    slow = threading.Thread(target=request, args=(server, "POST", "/", {"sleep": 0.5}))
    slow.start()
    deadline = time.monotonic() + 5
    while not any(w.busy for w in server.pool.workers()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    status, _, body = request(server, "POST", "/", {})
    slow.join()
    assert status == 429 and json.loads(body)["error"]["code"] == "too_many_requests"


def test_concurrent_clients_each_get_their_own_answer(
    serve: Callable[..., FunctionUrlServer],
) -> None:
    """Several clients, more than workers: every request answered, none lost or mixed up."""
    server = serve(workers=3, queue_limit=16)
    clients, per_client = 6, 10

    def client(number: int) -> list[tuple[str, int, Any]]:
        rng = random.Random(number)
        seen = []
        host, port = server.server_address[:2]
        conn = http.client.HTTPConnection(host, port, timeout=30)  # keep-alive, like a real client
        for i in range(per_client):
            token = f"client{number}-request{i}"
            conn.request(
                "POST",
                f"/predict?token={token}",
                body=json.dumps({"token": token, "sleep": rng.random() / 50}),
            )
            response = conn.getresponse()
            echo = json.loads(response.read())
            seen.append((token, response.status, echo))
        conn.close()
        return seen

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        answers = [a for batch in executor.map(client, range(clients)) for a in batch]
    elapsed = time.perf_counter() - started
    assert len(answers) == clients * per_client
    for token, status, echo in answers:
        assert status == 200
        assert json.loads(echo["event"]["body"])["token"] == token
        assert echo["event"]["queryStringParameters"] == {"token": token}
    assert len({echo["request_id"] for _, _, echo in answers}) == clients * per_client
    assert len({echo["pid"] for _, _, echo in answers}) == 3  # every worker took a share
    print(f"{len(answers)} requests from {clients} clients in {elapsed:.2f} s")


def test_a_silent_connection_is_closed(standin_config: Callable[..., Any]) -> None:
    """A client that stops sending (a slow loris, an idle keep-alive) loses its connection."""
    pool = WorkerPool(standin_config(), size=1, queue_limit=8, log=quiet)
    pool.start()
    try:
        with FunctionUrlServer(pool, read_timeout_s=0.3) as server:
            with socket.create_connection(server.server_address[:2], timeout=10) as sock:
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
                started = time.monotonic()
                assert sock.recv(65536) == b""  # closed by the server, not answered
                assert time.monotonic() - started < 5
            assert request(server, "POST", "/", {"instances": [1]})[0] == 200  # still serving
    finally:
        pool.close()
