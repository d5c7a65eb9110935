"""The Lambda half of the plan: function code and configuration, version, ``live`` alias, URL.

Each decision compares the wanted state with :class:`~slpack.deploy.state.FunctionState`, so an
unchanged bundle plans nothing: the code is compared by ``CodeSha256`` (Lambda's base64 SHA-256 of
the zip), the configuration field by field, and a version is published only when the newest
published one differs from what ``$LATEST`` is about to be.

Every write names the ``RevisionId`` it expects (the one read at plan time, then the one each
settled write left), so a concurrent change by anyone fails the write instead of being
overwritten or published by mistake (:mod:`slpack.deploy.apply`).
"""

from __future__ import annotations

import base64
from typing import Any

from slpack.deploy.options import UrlAuth
from slpack.deploy.state import (
    PUBLIC_URL_STATEMENTS,
    FunctionState,
    alias_weights,
    version_description,
)
from slpack.deploy.steps import UNCHANGED, Call, Ref, Step, unchanged
from slpack.deployment import ALIAS, HANDLER, Deployment

# Lambda's waiters: State Active after a create, LastUpdateStatus Successful after an update,
# and a published version Active before traffic moves to it.
CREATED, UPDATED, PUBLISHED = (
    "function_active_v2",
    "function_updated_v2",
    "published_version_active",
)
SETTLE = "get_function_configuration"  # read after each write: what AWS holds, its RevisionId
_AUTH_TYPES = {"iam": "AWS_IAM", "public": "NONE"}
_PUBLIC_STATEMENTS: dict[str, dict[str, Any]] = {
    # Anyone may call the URL without signing, and since October 2025 the URL also needs the
    # function's own invoke permission, granted only through the URL.
    PUBLIC_URL_STATEMENTS[0]: {
        "Action": "lambda:InvokeFunctionUrl",
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
    },
    PUBLIC_URL_STATEMENTS[1]: {
        "Action": "lambda:InvokeFunction",
        "Principal": "*",
        "InvokedViaFunctionUrl": True,
    },
}


def code_sha256(d: Deployment) -> str:
    """function.zip's hash the way Lambda reports it (``CodeSha256``: base64 of the digest)."""
    return base64.b64encode(bytes.fromhex(d.code_sha256)).decode()


def configuration(d: Deployment, role_arn: str, layer_arn: str | Ref | None) -> dict[str, Any]:
    """The function configuration to deploy (``update_function_configuration`` arguments); no
    layer (``Layers: []``, which also removes one an earlier deploy set) when ``layer_arn`` is
    None."""
    return {
        "Role": role_arn,
        "Handler": HANDLER,
        "Runtime": d.runtime,
        "Description": version_description(d.name, d.version, d.model_sha256),
        "Timeout": d.options.timeout_s,
        "MemorySize": d.options.memory_mb,
        "Environment": {"Variables": d.environment()},
        "Layers": [layer_arn] if layer_arn is not None else [],
        "TracingConfig": {"Mode": "Active" if d.options.tracing else "PassThrough"},
        "SnapStart": {"ApplyOn": "PublishedVersions" if d.options.snapstart else "None"},
    }


def differences(wanted: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The keys of ``wanted`` whose value ``config`` (a Lambda configuration response) does not
    have."""
    current = {
        "Environment": {"Variables": (config.get("Environment") or {}).get("Variables") or {}},
        "Layers": [layer["Arn"] for layer in config.get("Layers") or []],
        "TracingConfig": {"Mode": (config.get("TracingConfig") or {}).get("Mode", "PassThrough")},
        "Architectures": config.get("Architectures") or ["x86_64"],
        "SnapStart": {"ApplyOn": (config.get("SnapStart") or {}).get("ApplyOn", "None")},
    }
    return [key for key, value in wanted.items() if current.get(key, config.get(key)) != value]


def function_steps(
    d: Deployment,
    state: FunctionState,
    config: dict[str, Any],
    code: dict[str, Any],
    *,
    canary: float | None,
    url: UrlAuth,
    signed_sha256: str | Ref | None = None,
    code_signing: str | Ref | None = None,
) -> tuple[list[Step], dict[str, Any]]:
    """The steps for the function, its version, alias and URL; and the plan's outputs.

    With code signing, ``code`` is the signed copy, ``signed_sha256`` its ``CodeSha256`` and
    ``code_signing`` the configuration a new function is created with.

    The outputs: ``version`` (the bundle's version number), ``live`` (the alias's main version:
    the same, or the stable one during a canary) and ``url``.
    """
    fn = d.function_name
    identity = {"CodeSha256": signed_sha256 or code_sha256(d), "Architectures": [d.arch]}
    create_extra = {"CodeSigningConfigArn": code_signing} if code_signing is not None else {}
    steps, revision = _code_and_configuration(d, state, config, code, identity, create_extra)

    newest = state.newest
    stale = differences({**config, **identity}, newest) if newest else ["everything"]
    version: str | Ref
    if stale:
        version = Ref("version")
        since = (
            f"changed since version {newest['Version']}: {', '.join(stale)}"
            if newest
            else "the first version"
        )
        publish = Call(
            "lambda",
            "publish_version",
            {
                "FunctionName": fn,
                "Description": config["Description"],
                "CodeSha256": identity["CodeSha256"],
                "RevisionId": revision,
            },
            outputs={"version": "Version"},
            wait=PUBLISHED,
            wait_args={"FunctionName": fn, "Qualifier": Ref("version")},
        )
        steps.append(
            Step("version", fn, "publish", f"{config['Description']}; {since}", (publish,))
        )
    else:
        assert newest is not None
        version = newest["Version"]
        steps.append(
            unchanged(
                "version", f"{fn}:{version}", f"version {version} has this code and configuration"
            )
        )

    # A canary keeps live on its version and sends the share to the new one; without one (or
    # with nothing older to share with) live moves, which also promotes an earlier canary.
    shared = (
        canary is not None and state.alias is not None and state.alias["FunctionVersion"] != version
    )
    live = state.alias["FunctionVersion"] if shared and state.alias else version
    steps.append(
        alias_step(state, live, {version: round(canary / 100, 4)} if shared and canary else {})
    )
    url_step, function_url = _url(state, url)
    steps += [url_step, _public_access(state, url)]
    return steps, {"version": version, "live": live, "url": function_url}


def _code_and_configuration(
    d: Deployment,
    state: FunctionState,
    config: dict[str, Any],
    code: dict[str, Any],
    identity: dict[str, Any],
    create_extra: dict[str, Any],
) -> tuple[list[Step], str | Ref | None]:
    """The code and configuration steps, and the RevisionId ``$LATEST`` will have after them."""
    fn, o = d.function_name, d.options
    scalars = ("Role", "Handler", "Runtime", "Description", "Timeout", "MemorySize")
    config_expect = {key: config[key] for key in scalars}
    if state.latest is None:
        create = Call(
            "lambda",
            "create_function",
            {
                "FunctionName": fn,
                **config,
                "Code": code,
                "Architectures": identity["Architectures"],
                "PackageType": "Zip",
                **create_extra,
            },
            wait=CREATED,
            wait_args={"FunctionName": fn},
            retry_while_role_propagates=True,
            expect={"CodeSha256": identity["CodeSha256"], **config_expect},
            outputs={"revision": "RevisionId"},
            settle=SETTLE,
        )
        detail = f"{d.runtime} on {d.arch}, {o.memory_mb} MB, {o.timeout_s} s timeout"
        return [Step("function", fn, "create", detail, (create,))], Ref("revision")
    steps: list[Step] = []
    revision: str | Ref | None = state.latest.get("RevisionId")
    if changed := differences(identity, state.latest):
        update = Call(
            "lambda",
            "update_function_code",
            {
                "FunctionName": fn,
                **code,
                "Architectures": identity["Architectures"],
                "RevisionId": revision,
            },
            wait=UPDATED,
            wait_args={"FunctionName": fn},
            expect={"CodeSha256": identity["CodeSha256"]},
            outputs={"revision": "RevisionId"},
            settle=SETTLE,
        )
        revision = Ref("revision")
        steps.append(
            Step(
                "function code",
                fn,
                "update",
                f"{', '.join(changed)}: function.zip sha256 {d.code_sha256[:12]}",
                (update,),
            )
        )
    else:
        steps.append(
            unchanged("function code", fn, f"function.zip sha256 {d.code_sha256[:12]} is deployed")
        )
    if changed := differences(config, state.latest):
        update = Call(
            "lambda",
            "update_function_configuration",
            {"FunctionName": fn, **config, "RevisionId": revision},
            wait=UPDATED,
            wait_args={"FunctionName": fn},
            retry_while_role_propagates=True,
            expect=config_expect,
            outputs={"revision": "RevisionId"},
            settle=SETTLE,
        )
        revision = Ref("revision")
        steps.append(Step("function configuration", fn, "update", ", ".join(changed), (update,)))
    else:
        steps.append(
            unchanged(
                "function configuration",
                fn,
                f"{d.runtime} on {d.arch}, {o.memory_mb} MB, {o.timeout_s} s timeout",
            )
        )
    return steps, revision


def alias_step(state: FunctionState, version: str | Ref, weights: dict[Any, float]) -> Step:
    """Point the ``live`` alias at ``version``, with ``weights`` of its traffic sent elsewhere."""
    fn, current = state.name, state.alias
    detail = _routing(version, weights)
    if current is None:
        create = Call(
            "lambda",
            "create_alias",
            {
                "FunctionName": fn,
                "Name": ALIAS,
                "FunctionVersion": version,
                "Description": "slpack: the version that serves traffic",
            },
        )
        return Step("alias", f"{fn}:{ALIAS}", "create", detail, (create,))
    was_weights = alias_weights(current)
    same_weights = was_weights.keys() == weights.keys() and all(
        abs(was_weights[v] - w) < 1e-6 for v, w in weights.items()
    )
    if current["FunctionVersion"] == version and same_weights:
        return unchanged("alias", f"{fn}:{ALIAS}", detail)
    update = Call(
        "lambda",
        "update_alias",
        {
            "FunctionName": fn,
            "Name": ALIAS,
            "FunctionVersion": version,
            "RoutingConfig": {"AdditionalVersionWeights": weights},
            "RevisionId": current.get("RevisionId"),  # a rollback or deploy since: refused
        },
    )
    return Step(
        "alias",
        f"{fn}:{ALIAS}",
        "move",
        f"{_routing(current['FunctionVersion'], was_weights)} → {detail}",
        (update,),
    )


def _routing(version: str | Ref, weights: dict[Any, float]) -> str:
    """``version 1, 10% to version 2``."""
    return f"version {version}" + "".join(f", {w:.0%} to version {v}" for v, w in weights.items())


def _url(state: FunctionState, url: UrlAuth) -> tuple[Step, str | Ref | None]:
    """The Function URL of the ``live`` alias, with the asked authentication (or none at all)."""
    fn, auth, current = state.name, _AUTH_TYPES.get(url), state.url
    where = {"FunctionName": fn, "Qualifier": ALIAS}
    if auth is None:
        if current is None:
            return unchanged("url", f"{fn}:{ALIAS}", "no function URL (--url none)"), None
        delete = Call("lambda", "delete_function_url_config", where)
        return Step("url", current["FunctionUrl"], "delete", "--url none", (delete,)), None
    if current is None:
        create = Call(
            "lambda",
            "create_function_url_config",
            {**where, "AuthType": auth},
            outputs={"url": "FunctionUrl"},
        )
        return Step("url", f"{fn}:{ALIAS}", "create", f"auth {auth}", (create,)), Ref("url")
    if current["AuthType"] != auth:
        update = Call("lambda", "update_function_url_config", {**where, "AuthType": auth})
        return Step(
            "url",
            current["FunctionUrl"],
            "update",
            f"auth {current['AuthType']} → {auth}",
            (update,),
        ), current["FunctionUrl"]
    return unchanged("url", current["FunctionUrl"], f"auth {auth}"), current["FunctionUrl"]


def _public_access(state: FunctionState, url: UrlAuth) -> Step:
    """The resource-policy statements that let anyone call a public URL: present only for ``--url
    public``."""
    fn, have = state.name, state.statements
    if url == "public":
        calls = tuple(
            Call(
                "lambda",
                "add_permission",
                {"FunctionName": fn, "Qualifier": ALIAS, "StatementId": sid, **statement},
            )
            for sid, statement in _PUBLIC_STATEMENTS.items()
            if sid not in have
        )
        action, detail = "grant", "anyone may invoke the live alias through its URL"
    else:
        calls = tuple(
            Call(
                "lambda",
                "remove_permission",
                {"FunctionName": fn, "Qualifier": ALIAS, "StatementId": sid},
            )
            for sid in _PUBLIC_STATEMENTS
            if sid in have
        )
        action, detail = (
            "revoke",
            "only signed (IAM) callers" if url == "iam" else "no public access",
        )
    return Step("permission", f"{fn}:{ALIAS}", action if calls else UNCHANGED, detail, calls)
