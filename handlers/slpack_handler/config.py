"""Settings from the environment, read once per container.

A bad value never stops the function from starting: it falls back to the default and is reported
once in the log, so a typo in a template does not take the endpoint down.
"""

# No `from __future__ import annotations` here: NamedTuple would turn each string annotation into a
# compiled ForwardRef, about 1 ms of every cold start.
import os
from typing import NamedTuple

# SLPACK_METRICS values: CloudWatch EMF, plain JSON, Cloud Logging, Application Insights
# (slpack_handler.metrics), off.
SINKS = ("emf", "log", "gcp", "azure", "none")

# os.path, not pathlib: pathlib costs ~3 ms of imports on every cold start.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class Settings(NamedTuple):
    """The handler's settings: immutable, built once (a NamedTuple, not a dataclass: importing
    dataclasses pulls in inspect, several milliseconds of every cold start)."""

    model_dir: str = os.path.join(os.path.dirname(_PACKAGE_DIR), "model")
    model_uri: str | None = None
    model_cache_dir: str = "/tmp/slpack"
    eager: bool = False
    intra_op_threads: int | None = None
    max_body_bytes: int = 1_048_576
    max_batch: int = 1000
    max_string_length: int = 10_000
    cache_size: int = 0
    cache_ttl_s: float = 300.0
    metrics: str = "emf"
    namespace: str = "slpack"
    hooks: tuple[str, ...] = ()
    hook_timeout_ms: int = 50
    log_level: str = "INFO"
    reload_backoff_s: float = 1.0
    function_name: str = "local"
    problems: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        defaults = cls._field_defaults
        problems: list[str] = []

        def number(name: str, default: float, kind: type = int, low: float = 0) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = kind(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a number; using {default}")
                return default
            if value < low:
                problems.append(f"{name}={raw!r} is below {low}; using {default}")
                return default
            return value

        metrics = env.get("SLPACK_METRICS", "emf").strip().lower() or "emf"
        if metrics not in SINKS:
            problems.append(
                f"SLPACK_METRICS={metrics!r} is not one of {', '.join(SINKS)}; using emf"
            )
            metrics = "emf"
        threads = env.get("SLPACK_INTRA_OP_THREADS")
        hooks = tuple(h.strip() for h in env.get("SLPACK_METRIC_HOOKS", "").split(",") if h.strip())
        return cls(
            model_dir=env.get("SLPACK_MODEL_DIR") or defaults["model_dir"],
            model_uri=env.get("SLPACK_MODEL_URI") or None,
            model_cache_dir=env.get("SLPACK_MODEL_CACHE_DIR") or defaults["model_cache_dir"],
            eager=env.get("SLPACK_EAGER", "0").strip().lower() in ("1", "true", "yes"),
            intra_op_threads=int(number("SLPACK_INTRA_OP_THREADS", 0, int, 1)) or None
            if threads
            else None,
            max_body_bytes=int(number("SLPACK_MAX_BODY_BYTES", defaults["max_body_bytes"], int, 1)),
            max_batch=int(number("SLPACK_MAX_BATCH", defaults["max_batch"], int, 1)),
            max_string_length=int(
                number("SLPACK_MAX_STRING_LENGTH", defaults["max_string_length"], int, 1)
            ),
            cache_size=int(number("SLPACK_CACHE_SIZE", 0, int, 0)),
            cache_ttl_s=float(number("SLPACK_CACHE_TTL_S", defaults["cache_ttl_s"], float, 0)),
            metrics=metrics,
            namespace=env.get("SLPACK_METRICS_NAMESPACE") or defaults["namespace"],
            hooks=hooks,
            hook_timeout_ms=int(
                number("SLPACK_HOOK_TIMEOUT_MS", defaults["hook_timeout_ms"], int, 1)
            ),
            log_level=(env.get("SLPACK_LOG_LEVEL") or "INFO").upper(),
            reload_backoff_s=float(
                number("SLPACK_RELOAD_BACKOFF_S", defaults["reload_backoff_s"], float, 0)
            ),
            # Lambda, Cloud Run (functions), Azure Functions (the function app's name)
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME")
            or env.get("K_SERVICE")
            or env.get("WEBSITE_SITE_NAME")
            or "local",
            problems=tuple(problems),
        )
