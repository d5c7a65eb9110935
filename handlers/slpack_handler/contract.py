"""The contract between the build tool (``slpack``) and the function runtime (``slpack_handler``).

Every name both halves rely on lives here once: the manifest's shape and format version, the
kinds of features, tasks and runtimes, the handler's environment variables and their defaults,
the error body, the metric names and dimension sets, the missing-string marker and the alias.
The build tool writes the manifest through these types and the handler, render, serve, deploy
and bench read it through them (docs/architecture.md).

Standard library only, and cheap to import: it ships inside function.zip and runs on every cold
start, on Python 3.9 and later (the edge target).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

# -- versions and names ------------------------------------------------------------------------

FORMAT = 2
"""The manifest format this slpack writes and this handler reads. Bumped on any change an older
reader would misread; a handler refuses a manifest of another format (rebuild the bundle)."""

MANIFEST_FILE = "slpack.json"
MODEL_DIR = "model"  # function.zip: model/slpack.json and model/<artifact> beside slpack_handler/
HANDLER = "slpack_handler.handler"  # the Lambda handler string
ALIAS = "live"  # the alias every deployment routes traffic through
DEFAULT_PYTHON = "3.12"  # the Lambda Python runtime a bundle targets unless a layer says otherwise
MISSING_STRING = ""  # how a missing string reaches a model (ONNX string tensors cannot hold NaN)

Task = Literal["classifier", "regressor", "transformer", "outlier", "multilabel"]
TASKS = ("classifier", "regressor", "transformer", "outlier", "multilabel")
FeatureType = Literal["number", "integer", "boolean", "string"]  # what a request sends
Dtype = Literal["float32", "float64", "int64", "bool", "string"]  # what the model is fed
Role = Literal["numeric", "categorical", "text", "boolean"]
Layout = Literal["columns", "tensor"]
UnknownPolicy = Literal["accept", "reject"]
RuntimeName = Literal["onnxruntime", "python", "sklearn"]
RUNTIMES = ("onnxruntime", "python", "sklearn")
ModelFormat = Literal["onnx", "slpack-python", "skops", "joblib"]
ChosenBy = Literal["flag", "auto"]
SklearnFeed = Literal["frame", "array", "text"]  # a DataFrame, a 2-D array, or 1-D texts
BinKind = Literal["number", "category", "boolean", "length"]  # how a feature's values are binned
PredictionKind = Literal["class", "number"]

# -- the manifest (slpack.json) ---------------------------------------------------------------
# The shapes are for type checkers only: TypedDicts do nothing at run time, and building them
# costs every cold start a few hundred microseconds. slpack imports them under TYPE_CHECKING.
if TYPE_CHECKING:
    from typing import TypedDict

    # total=False: a key that does not apply (a classifier's ``value``) may be absent or null.

    class FeatureSpec(TypedDict, total=False):
        name: str  # the request's field name
        onnx_name: str | None  # the model's input name, when it differs (layout columns)
        type: FeatureType
        dtype: Dtype
        role: Role
        nullable: bool  # may a request send null? probed at build time
        categories: list[Any] | None  # the categories the model itself was fitted with
        unknown: UnknownPolicy | None  # an unseen category: accepted, or a 400

    class TensorSpec(TypedDict):
        name: str
        dtype: Dtype
        width: int

    class InputSpec(TypedDict, total=False):
        layout: Layout
        tensor: TensorSpec | None
        features: list[FeatureSpec]  # the columns the model reads, in the model's order
        ignored: list[str]  # sample columns the model never reads: accepted, not required

    class TargetSpec(TypedDict, total=False):
        """One output of a multi-label classifier."""

        name: str
        classes: list[Any]
        probabilities: str | None

    class OutputSpec(TypedDict, total=False):
        names: list[str]  # every model output the runtime fetches, in order
        label: str | None  # classifier, outlier, multilabel: the labels output
        probabilities: str | None  # classifier: [N, n_classes], columns in ``classes`` order
        classes: list[Any] | None
        value: str | None  # regressor: [N] or [N, 1] (a number) or [N, k] (a list)
        embedding: str | None  # transformer: [N, k]
        score: str | None  # outlier: the anomaly score (lower is more abnormal)
        targets: list[TargetSpec] | None  # multilabel: one entry per label

    class ModelEntry(TypedDict, total=False):
        """The file the runtime loads, verified against ``sha256`` before anything reads it."""

        file: str
        format: ModelFormat
        sha256: str
        bytes: int

    class OnnxEntry(TypedDict, total=False):
        """The verified ONNX graph (absent when the runtime is scikit-learn without a graph)."""

        file: str
        sha256: str
        bytes: int
        ir_version: int
        opset: dict[str, int]
        optimization: str
        min_onnxruntime: str

    class RuntimeMeasure(TypedDict, total=False):
        single_row_us: float  # median in-process cost of one row, at build time
        batch_us: float  # median cost of a 100-row batch

    class RuntimeEntry(TypedDict, total=False):
        name: RuntimeName
        chosen_by: ChosenBy
        reason: str  # why this runtime (auto: the rule; the timings are in build.json)
        intra_op_threads: int  # onnxruntime
        inter_op_threads: int
        requirements: dict[str, str]  # sklearn: exact distribution versions the model needs
        feed: SklearnFeed  # sklearn: how rows reach the pipeline (as it was fitted)
        trusted: list[str]  # sklearn: skops types this bundle's model file may load
        categories: dict[str, list[Any]]  # sklearn: columns fitted as pandas categoricals
        columns: list[str]  # sklearn: every column the pipeline is handed, read or not

    class FeatureBaseline(TypedDict, total=False):
        """One feature's reference distribution: its bins and their shares (docs/drift.md)."""

        name: str
        kind: BinKind
        edges: list[float]  # number, length: ascending; bin i holds edges[i-1] <= x < edges[i]
        categories: list[Any]  # category: one bin each (the model's own categories), then "other"
        missing: bool  # a last bin counts missing values (the feature is nullable)
        shares: list[float]  # one per bin, in bin order: smoothed, never 0, summing to 1

    class PredictionBaseline(TypedDict, total=False):
        """The distribution of the model's own answers on the baseline rows."""

        kind: PredictionKind
        classes: list[Any]  # class: one bin per class, the most common first
        other: bool  # class: a last bin holds the classes beyond MAX_PREDICTION_BINS - 1
        edges: list[float]  # number: as a feature's
        shares: list[float]

    class Baseline(TypedDict, total=False):
        source: str  # "sample", or the name of the --baseline file
        rows: int  # rows the shares were counted on
        features: list[FeatureBaseline]  # in input.features order, the order of the sketch
        prediction: PredictionBaseline | None  # None: the task has no binnable answer

    class Manifest(TypedDict, total=False):
        format: int
        name: str
        version: str
        created: str
        task: Task
        estimator: str
        model: ModelEntry
        onnx: OnnxEntry | None
        runtime: RuntimeEntry
        input: InputSpec
        output: OutputSpec
        example: dict[str, Any]  # one synthetic row (medians, most common known categories)
        stats: dict[str, dict[str, Any]]  # per feature: aggregates only, never sample values
        baseline: Baseline | None  # the drift baseline (docs/drift.md)
        parity: dict[str, Any]
        versions: dict[str, str]
        files: dict[str, str]  # sha256 of every file function.zip ships, by path, but the manifest
        layer: dict[str, Any] | None


class ManifestError(Exception):
    """The manifest is missing, unreadable or of another format; str() says what to do."""


def read_manifest(path: str) -> Manifest:
    """Read and check a manifest file; each side turns ManifestError into its own error."""
    try:
        with open(path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except FileNotFoundError:
        raise ManifestError(f"the manifest {path} is missing; rebuild the bundle") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"the manifest {path} cannot be read ({type(exc).__name__}); rebuild the bundle"
        ) from None
    check_manifest(manifest, path)
    return manifest  # type: ignore[no-any-return]


def check_manifest(manifest: Any, where: str) -> None:
    """Refuse a manifest this code cannot read, naming the fix."""
    if not isinstance(manifest, dict):
        raise ManifestError(f"the manifest {where} is not a JSON object; rebuild the bundle")
    found = manifest.get("format")
    if found != FORMAT:
        raise ManifestError(
            f"the manifest {where} has format {found!r} but this slpack reads format {FORMAT}; "
            "rebuild the bundle with this slpack"
        )
    for key in ("name", "version", "task", "model", "runtime", "input", "output"):
        if key not in manifest:
            raise ManifestError(f"the manifest {where} lacks {key!r}; rebuild the bundle")
    runtime = manifest["runtime"].get("name") if isinstance(manifest["runtime"], dict) else None
    for what, value, known in (("task", manifest["task"], TASKS), ("runtime", runtime, RUNTIMES)):
        if value not in known:
            raise ManifestError(
                f"the manifest {where} names {what} {value!r}, which this slpack does not serve "
                f"({', '.join(known)}); rebuild the bundle with this slpack"
            )


# -- the handler's environment ----------------------------------------------------------------


class Env:
    """Names of the handler's environment variables (docs/handler.md); defaults in DEFAULTS."""

    MODEL_DIR = "SLPACK_MODEL_DIR"
    MODEL_URI = "SLPACK_MODEL_URI"
    MODEL_CACHE_DIR = "SLPACK_MODEL_CACHE_DIR"
    S3_ENDPOINT_URL = "SLPACK_S3_ENDPOINT_URL"
    EAGER = "SLPACK_EAGER"
    INTRA_OP_THREADS = "SLPACK_INTRA_OP_THREADS"
    MAX_BODY_BYTES = "SLPACK_MAX_BODY_BYTES"
    MAX_BATCH = "SLPACK_MAX_BATCH"
    MAX_STRING_LENGTH = "SLPACK_MAX_STRING_LENGTH"
    CACHE_SIZE = "SLPACK_CACHE_SIZE"
    CACHE_TTL_S = "SLPACK_CACHE_TTL_S"
    METRICS = "SLPACK_METRICS"
    METRICS_NAMESPACE = "SLPACK_METRICS_NAMESPACE"
    METRIC_HOOKS = "SLPACK_METRIC_HOOKS"
    HOOK_TIMEOUT_MS = "SLPACK_HOOK_TIMEOUT_MS"
    LOG_LEVEL = "SLPACK_LOG_LEVEL"
    RELOAD_BACKOFF_S = "SLPACK_RELOAD_BACKOFF_S"
    MODEL_FETCH_MARGIN_MS = "SLPACK_MODEL_FETCH_MARGIN_MS"
    DRIFT = "SLPACK_DRIFT"


DEFAULTS: dict[str, Any] = {
    Env.MODEL_CACHE_DIR: "/tmp/slpack",
    Env.EAGER: False,
    Env.MAX_BODY_BYTES: 1_048_576,
    Env.MAX_BATCH: 1000,
    Env.MAX_STRING_LENGTH: 10_000,
    Env.CACHE_SIZE: 0,
    Env.CACHE_TTL_S: 300.0,
    Env.METRICS: "emf",
    Env.METRICS_NAMESPACE: "slpack",
    Env.HOOK_TIMEOUT_MS: 50,
    Env.LOG_LEVEL: "INFO",
    Env.RELOAD_BACKOFF_S: 1.0,
    Env.MODEL_FETCH_MARGIN_MS: 2000,
    Env.DRIFT: True,
}

MetricSink = Literal["emf", "log", "gcp", "azure", "none"]
SINKS = ("emf", "log", "gcp", "azure", "none")

# -- metrics ----------------------------------------------------------------------------------

NAMESPACE = "slpack"
# Every metric is published under two dimension sets (CloudWatch EMF lets one line carry several):
# per model version, for dashboards and comparing a canary with the stable version; and per
# serving alias (or version), ``Resource = FUNCTION:QUALIFIER`` from the invoked ARN, the names
# and values of Lambda's own alias metrics, which is what the alarms watch, so they follow traffic
# through canaries and rollbacks without being moved.
DIMENSIONS = ("FunctionName", "ModelName", "ModelVersion")
SERVING_DIMENSIONS = ("FunctionName", "Resource")
DIMENSION_SETS = (DIMENSIONS, SERVING_DIMENSIONS)
METRICS = {
    "ColdStart": "Count",
    "ModelLoadMs": "Milliseconds",
    "InferenceMs": "Milliseconds",
    "TotalMs": "Milliseconds",
    "BatchSize": "Count",
    "Errors": "Count",
    "ValidationErrors": "Count",
    "ModelLoadFailures": "Count",
    "CacheHits": "Count",
    "UnknownCategory": "Count",
    "OutOfRange": "Count",
    "MissingValue": "Count",
}

# -- drift ------------------------------------------------------------------------------------
# Each answered request's values, counted into the baseline's bins, travel in the metric record as
# one string property (docs/drift.md): per feature in input.features order, then the predictions,
# the counts of every bin in bin order, comma-separated; features separated by one space. A single
# row of three features of 4, 3 and 2 bins: "0,1,0,0 0,0,1 1,0". Dense and positional on purpose:
# the dashboard's Logs Insights queries read a feature's bins with one regular expression whose
# groups always match, and the line never grows a key per bin.
DRIFT_PROPERTY = "drift"
# The prediction bins are also metrics, of the serving dimension set only: what the prediction
# drift alarm reads (CloudWatch metric math takes at most 10 metrics, hence the cap).
PREDICTION_BIN = "PredictionBin"  # + the bin's index: PredictionBin0, PredictionBin1, ...
MAX_PREDICTION_BINS = 10

# -- errors -----------------------------------------------------------------------------------

ErrorCode = Literal[
    "invalid_json",
    "invalid_request",
    "validation_failed",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "batch_too_large",
    "unsupported_media_type",
    "internal_error",
    "model_unavailable",
]
MAX_DETAILS = 100  # an error body names every problem, up to this many


def detail(row: int | None, field: str | None, code: str, message: str) -> dict[str, Any]:
    """One problem of a request: which row, which field, what is wrong."""
    return {"row": row, "field": field, "code": code, "message": message}


def error_body(
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """``{"error": {"code", "message", "details", "request_id"}}``, the body of every 4xx/5xx."""
    details = list(details or [])
    if len(details) > MAX_DETAILS:
        extra = len(details) - MAX_DETAILS
        details = [
            *details[:MAX_DETAILS],
            detail(None, None, "truncated", f"{extra} more problems not listed"),
        ]
    return {
        "error": {"code": code, "message": message, "details": details, "request_id": request_id}
    }
