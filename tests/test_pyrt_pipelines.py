"""The Python runtime on every COVERAGE pipeline: compiled from the graph slpack ships, it answers
the sample rows as onnxruntime does (labels identical, numbers within 1e-5 abs or rel); plus the
runtime's own promises: it runs without numpy on the oldest Python the handler supports, and it
refuses programs that are not plain data of its own format."""

from __future__ import annotations

import marshal
import math
import subprocess
import sys
import textwrap
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from pipelines import COVERAGE

from slpack.bundler.convert import convert
from slpack.bundler.introspect import task_of
from slpack.bundler.optimize import optimize_offline
from slpack.bundler.parity import output_spec
from slpack.bundler.runtimes import LocalRuntime, draft_manifest, onnx_artifact, python_artifact
from slpack.bundler.schema import infer_schema
from slpack.pycompile import compile_model, unsupported_ops
from slpack_handler.pyrt import ProgramError, load
from slpack_handler.pyrt.registry import MAGIC, VERSION
from slpack_handler.schema import Parsed

ROWS = 40
HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
PYTHON39 = Path("/root/.pyenv/versions/3.9.18/bin/python")
# Every COVERAGE case compiles today; a case that stops compiling shows up here by name.
EXPECTED_UNSUPPORTED: dict[str, list[str]] = {}


@cache
def converted(case: str) -> tuple[Any, dict[str, np.ndarray]]:
    """The optimised graph slpack would ship for ``case`` and onnxruntime feeds of its sample."""
    model, sample = COVERAGE[case]()
    schema, frame = infer_schema(model, sample)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = convert(model, schema).onnx_model
    data, _ = optimize_offline(onx.SerializeToString())
    spec = output_spec(onx, model, task_of(model))
    ort_runtime = LocalRuntime(onnx_artifact(data), schema, spec, model).runtime
    rows = frame.head(ROWS)
    feeds = ort_runtime.feeds(Parsed(len(rows), schema.request_columns(rows)))
    return onnx.load_from_string(data), feeds


def test_unsupported_cases_are_the_expected_ones() -> None:
    found = {case: unsupported_ops(converted(case)[0]) for case in sorted(COVERAGE)}
    assert {c: ops for c, ops in found.items() if ops} == EXPECTED_UNSUPPORTED


@pytest.mark.parametrize("case", sorted(COVERAGE))
def test_case_answers_like_onnxruntime(case: str) -> None:
    if case in EXPECTED_UNSUPPORTED:
        pytest.skip("not supported by the Python runtime")
    graph, feeds = converted(case)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    want = session.run(None, feeds)
    program = load(compile_model(graph))
    assert [name for name, _, _ in program.inputs] == [i.name for i in graph.graph.input]
    got = program.run({name: value.tolist() for name, value in feeds.items()})
    for w, g in zip(want, got):
        if w.dtype.kind == "f":
            assert np.asarray(g).shape == w.shape
            np.testing.assert_allclose(np.asarray(g, dtype=np.float64), w, rtol=1e-5, atol=1e-5)
        else:
            assert g == w.tolist()
    for i in (0, ROWS - 1):  # one row at a time answers the same
        single = program.run({name: value[i : i + 1].tolist() for name, value in feeds.items()})
        assert single[0] == [got[0][i]]


def test_program_reports_its_inputs_and_refuses_bad_feeds() -> None:
    graph, feeds = converted("mixed-logreg")
    program = load(compile_model(graph))
    assert program.inputs[0] == ("age", "float32", 1)
    assert ("plan", "string", 1) in program.inputs
    assert program.outputs == ["label", "probabilities"]
    good = {name: value[:2].tolist() for name, value in feeds.items()}
    with pytest.raises(ValueError, match="'age' takes float32"):
        program.run({**good, "age": [["old"], [3.0]]})
    with pytest.raises(ValueError, match="1 values"):
        program.run({**good, "age": [[1.0, 2.0], [3.0]]})
    with pytest.raises(ValueError, match="'plan' is missing"):
        program.run({k: v for k, v in good.items() if k != "plan"})
    assert program.run(good, ["probabilities"])[0] == program.run(good)[1]


def test_batches_checked_in_bulk_agree_with_rows_checked_one_by_one() -> None:
    """From BULK_ROWS rows the Python runtime checks number columns with a few C passes: the
    same columns, drift counts and problems as the per-value checks."""
    from slpack.bundler.stats import feature_stats
    from slpack_handler.errors import RequestError
    from slpack_handler.runtime_python import PythonRuntime
    from slpack_handler.schema import BULK_ROWS
    from slpack_handler.schema import Schema as RequestSchema

    model, sample = COVERAGE["mixed-logreg"]()
    schema, frame = infer_schema(model, sample)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = convert(model, schema).onnx_model
    spec = output_spec(onx, model, task_of(model))
    manifest: Any = dict(draft_manifest(python_artifact(onx), schema, spec, spec.task))
    manifest["stats"] = feature_stats(schema, frame)
    in_bulk = RequestSchema(manifest, 10**9, 10**9, PythonRuntime.bulk)
    one_by_one = RequestSchema(manifest, 10**9, 10**9, None)
    rows = [dict(zip(schema.names, values)) for values in zip(*schema.request_columns(frame))]
    rows = [{**rows[i % len(rows)], "age": 10.0 + 9 * i} for i in range(BULK_ROWS + 8)]
    bulk, plain = in_bulk.parse({"instances": rows}), one_by_one.parse({"instances": rows})
    assert bulk.columns == plain.columns
    assert (bulk.out_of_range, bulk.missing) == (plain.out_of_range, plain.missing)
    assert bulk.out_of_range > 0
    age = in_bulk.features[in_bulk.index["age"]]
    assert PythonRuntime.bulk(age, bulk.columns[in_bulk.index["age"]], Parsed(1, []), 0)
    for field, value in (("age", 1e39), ("age", 10**400), ("age", True), ("age", math.nan)):
        bad = [dict(row) for row in rows]
        bad[3][field] = value
        problems = []
        for requests in (in_bulk, one_by_one):
            with pytest.raises(RequestError) as caught:
                requests.parse({"instances": bad})
            problems.append(caught.value.details)
        assert problems[0] == problems[1] != []


def test_load_refuses_code_objects_and_other_versions() -> None:
    program = compile_model(converted("linear-regression")[0])
    body = marshal.loads(program[len(MAGIC) + 1 :])
    body["steps"][0][3]["hook"] = compile("print('owned')", "<x>", "exec")
    with pytest.raises(ProgramError, match="code objects"):
        load(MAGIC + bytes((VERSION,)) + marshal.dumps(body, 4))
    with pytest.raises(ProgramError, match="format version"):
        load(MAGIC + bytes((VERSION + 1,)) + program[len(MAGIC) + 1 :])
    with pytest.raises(ProgramError, match="not a compiled slpack program"):
        load(b"\x08\x01onnx")
    with pytest.raises(ProgramError, match="cannot be decoded"):
        load(program[:-20])


@pytest.mark.skipif(not PYTHON39.exists(), reason="no Python 3.9 interpreter on this machine")
def test_runs_on_python39_without_numpy(tmp_path: Path) -> None:
    graph, feeds = converted("mixed-random-forest")
    (tmp_path / "program.bin").write_bytes(compile_model(graph))
    rows = {name: value[:3].tolist() for name, value in feeds.items()}
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(HANDLERS)!r})
        try:
            import numpy
            raise SystemExit("numpy is importable")
        except ImportError:
            pass
        from slpack_handler.pyrt import load
        program = load(open({str(tmp_path / "program.bin")!r}, "rb").read())
        print(json.dumps(program.run(json.loads(sys.stdin.read()))))
        """
    )
    import json

    done = subprocess.run(
        [str(PYTHON39), "-I", "-S", "-c", script],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    here = load(compile_model(graph)).run(rows)
    assert json.loads(done.stdout) == json.loads(json.dumps(here))
    assert sys.version_info >= (3, 9)
