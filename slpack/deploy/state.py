"""What is deployed now: one function's configuration, versions, ``live`` alias and URL.

Read once per command with boto3; the deploy and rollback planners compare against it and
``slpack status`` prints it. Each published version's description names the model it serves
(:func:`version_description`), so the history can be read back without the bundles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from slpack.deploy.aws import unless_missing
from slpack.deployment import ALIAS

_DESCRIPTION = re.compile(r"^slpack (?P<name>\S+) (?P<version>\S+) model sha256 (?P<sha>[0-9a-f]+)")
PUBLIC_URL_STATEMENTS = ("slpack-public-url", "slpack-public-url-invoke")


def version_description(name: str, version: str, model_sha256: str) -> str:
    """The function and version description deploy writes: ``slpack NAME VERSION model sha256
    SHA12``."""
    return f"slpack {name} {version} model sha256 {model_sha256[:12]}"


def parse_description(text: str | None) -> dict[str, str] | None:
    """``{"name", "version", "sha"}`` from a description :func:`version_description` wrote, else
    None."""
    match = _DESCRIPTION.match(text or "")
    return match.groupdict() if match else None


@dataclass(frozen=True)
class FunctionState:
    """One function as AWS has it; ``latest`` is None when there is no such function."""

    name: str
    latest: dict[str, Any] | None  # the $LATEST configuration
    versions: tuple[dict[str, Any], ...]  # published versions' configurations, oldest first
    alias: dict[str, Any] | None  # the live alias
    url: dict[str, Any] | None  # the live alias's function URL configuration
    statements: frozenset[str]  # Sids of the live alias's resource policy

    @property
    def exists(self) -> bool:
        return self.latest is not None

    @property
    def newest(self) -> dict[str, Any] | None:
        return self.versions[-1] if self.versions else None

    def version(self, number: str) -> dict[str, Any] | None:
        return next((v for v in self.versions if v["Version"] == number), None)

    @property
    def traffic(self) -> dict[str, float]:
        """Share of the alias's traffic per version (empty without an alias)."""
        if self.alias is None:
            return {}
        weights = alias_weights(self.alias)
        return {self.alias["FunctionVersion"]: 1.0 - sum(weights.values()), **weights}


def alias_weights(alias: dict[str, Any]) -> dict[str, float]:
    """The alias's additional version weights (``{}`` when all traffic goes to its version)."""
    return dict((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})


def read_function(lam: Any, name: str) -> FunctionState:
    """Read ``name``'s state through the Lambda client ``lam`` (a few calls, nothing written)."""
    latest = unless_missing(lambda: lam.get_function_configuration(FunctionName=name))
    if latest is None:
        return FunctionState(name, None, (), None, None, frozenset())
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    published = [v for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]
    alias = unless_missing(lambda: lam.get_alias(FunctionName=name, Name=ALIAS))
    url = (
        unless_missing(lambda: lam.get_function_url_config(FunctionName=name, Qualifier=ALIAS))
        if alias
        else None
    )
    policy = (
        unless_missing(lambda: lam.get_policy(FunctionName=name, Qualifier=ALIAS))
        if alias
        else None
    )
    return FunctionState(
        name=name,
        latest=latest,
        versions=tuple(sorted(published, key=lambda v: int(v["Version"]))),
        alias=alias,
        url=url,
        statements=_statement_ids(policy),
    )


def _statement_ids(policy: dict[str, Any] | None) -> frozenset[str]:
    if not policy:
        return frozenset()
    document = json.loads(policy["Policy"])
    return frozenset(s.get("Sid", "") for s in document.get("Statement", []))
