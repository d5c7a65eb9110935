"""Settings from the environment, read once per container.

A bad value never stops the function from starting: it falls back to the default and is reported
once in the log, so a typo in a template does not take the endpoint down. The variable names and
defaults are the contract's (:mod:`slpack_handler.contract`), which render reads too.
"""

# No `from __future__ import annotations` here: NamedTuple would turn each string annotation into a
# compiled ForwardRef, about 1 ms of every cold start. Optional[...] instead of `X | None`, which
# Python 3.9 (the edge target) cannot evaluate.
import os
from typing import NamedTuple, Optional

from slpack_handler.contract import DEFAULTS, MODEL_DIR, NAMESPACE, SINKS, Env

# os.path, not pathlib: pathlib costs ~3 ms of imports on every cold start.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


class Settings(NamedTuple):
    """The handler's settings: immutable, built once (a NamedTuple, not a dataclass: importing
    dataclasses pulls in inspect, several milliseconds of every cold start)."""

    model_dir: str = os.path.join(os.path.dirname(_PACKAGE_DIR), MODEL_DIR)
    model_uri: Optional[str] = None
    model_cache_dir: str = DEFAULTS[Env.MODEL_CACHE_DIR]
    model_fetch_margin_ms: int = DEFAULTS[Env.MODEL_FETCH_MARGIN_MS]
    intra_op_threads: Optional[int] = None
    max_body_bytes: int = DEFAULTS[Env.MAX_BODY_BYTES]
    max_batch: int = DEFAULTS[Env.MAX_BATCH]
    max_string_length: int = DEFAULTS[Env.MAX_STRING_LENGTH]
    cache_size: int = DEFAULTS[Env.CACHE_SIZE]
    cache_ttl_s: float = DEFAULTS[Env.CACHE_TTL_S]
    metrics: str = DEFAULTS[Env.METRICS]
    namespace: str = NAMESPACE
    hooks: tuple[str, ...] = ()
    hook_timeout_ms: int = DEFAULTS[Env.HOOK_TIMEOUT_MS]
    log_level: str = DEFAULTS[Env.LOG_LEVEL]
    reload_backoff_s: float = DEFAULTS[Env.RELOAD_BACKOFF_S]
    drift: bool = DEFAULTS[Env.DRIFT]
    function_name: str = "local"
    problems: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: "Optional[dict[str, str]]" = None) -> "Settings":
        reader = _Reader(dict(os.environ if env is None else env))
        defaults = cls._field_defaults
        metrics = reader.choice(Env.METRICS, SINKS)
        threads = reader.number(Env.INTRA_OP_THREADS, 0, int, 1)
        hooks = tuple(
            h.strip() for h in reader.env.get(Env.METRIC_HOOKS, "").split(",") if h.strip()
        )
        env = reader.env
        return cls(
            model_dir=env.get(Env.MODEL_DIR) or defaults["model_dir"],
            model_uri=env.get(Env.MODEL_URI) or None,
            model_cache_dir=env.get(Env.MODEL_CACHE_DIR) or defaults["model_cache_dir"],
            model_fetch_margin_ms=int(reader.number(Env.MODEL_FETCH_MARGIN_MS, None, int, 0)),
            intra_op_threads=int(threads) or None,
            max_body_bytes=int(reader.number(Env.MAX_BODY_BYTES, None, int, 1)),
            max_batch=int(reader.number(Env.MAX_BATCH, None, int, 1)),
            max_string_length=int(reader.number(Env.MAX_STRING_LENGTH, None, int, 1)),
            cache_size=int(reader.number(Env.CACHE_SIZE, None, int, 0)),
            cache_ttl_s=float(reader.number(Env.CACHE_TTL_S, None, float, 0)),
            metrics=metrics,
            namespace=env.get(Env.METRICS_NAMESPACE) or NAMESPACE,
            hooks=hooks,
            hook_timeout_ms=int(reader.number(Env.HOOK_TIMEOUT_MS, None, int, 1)),
            log_level=(env.get(Env.LOG_LEVEL) or DEFAULTS[Env.LOG_LEVEL]).upper(),
            reload_backoff_s=float(reader.number(Env.RELOAD_BACKOFF_S, None, float, 0)),
            drift=reader.flag(Env.DRIFT),
            # Lambda, Cloud Run (functions), Azure Functions (the function app's name)
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME")
            or env.get("K_SERVICE")
            or env.get("WEBSITE_SITE_NAME")
            or "local",
            problems=tuple(reader.problems),
        )


def eager(env: "Optional[dict[str, str]]" = None) -> bool:
    """Whether to load the model during init (SLPACK_EAGER=1: provisioned concurrency)."""
    value = (os.environ if env is None else env).get(Env.EAGER, "0")
    return value.strip().lower() in _TRUE


class _Reader:
    """Reads typed values, remembering every fallback as a problem to log once."""

    def __init__(self, env: "dict[str, str]") -> None:
        self.env = env
        self.problems: list[str] = []

    def number(self, name: str, default: "Optional[float]", kind: type, low: float) -> float:
        fallback = DEFAULTS[name] if default is None else default
        raw = self.env.get(name)
        if raw is None or raw == "":
            return fallback
        try:
            value = kind(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r} is not a number; using {fallback}")
            return fallback
        if value < low:
            self.problems.append(f"{name}={raw!r} is below {low}; using {fallback}")
            return fallback
        return value  # type: ignore[no-any-return]

    def flag(self, name: str) -> bool:
        fallback: bool = DEFAULTS[name]
        value = self.env.get(name, "").strip().lower()
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        if value:
            self.problems.append(f"{name}={value!r} is not 1 or 0; using {int(fallback)}")
        return fallback

    def choice(self, name: str, allowed: "tuple[str, ...]") -> str:
        fallback: str = DEFAULTS[name]
        value = self.env.get(name, fallback).strip().lower() or fallback
        if value not in allowed:
            self.problems.append(
                f"{name}={value!r} is not one of {', '.join(allowed)}; using {fallback}"
            )
            return fallback
        return value
