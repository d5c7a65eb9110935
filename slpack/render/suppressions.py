"""The checkov findings slpack templates accept, each with the reason written next to it.

Every target renders a suppression as a comment beside the resource it concerns (YAML
``# checkov:skip=ID: reason``, HCL ``#checkov:skip=ID:reason``), and only where it applies: a
check an option can satisfy is suppressed only while that option is off.
"""

from __future__ import annotations

from dataclasses import dataclass

REASONS: dict[str, str] = {
    # Lambda
    "CKV_AWS_115": "Reserved concurrency takes capacity from the account's shared pool (10 on "
    "new accounts); "
    "cap it with --reserved-concurrency.",
    "CKV_AWS_116": "Invoked synchronously (Function URL, HTTP API); a dead-letter queue only "
    "serves asynchronous invocations.",
    "CKV_AWS_117": "The function reaches no private resources; a VPC would add NAT costs for "
    "S3 and CloudWatch and isolate nothing.",
    "CKV_AWS_173": "The environment holds configuration only (limits, metric settings, the model "
    "URI), no secrets.",
    "CKV_AWS_272": "Code signing was not asked for: it needs an AWS Signer profile only the "
    "account owner can create (pass it with --signing-profile); the manifest's sha256 values "
    "travel in the same zip, so they catch corruption, not tampering.",
    "CKV_AWS_258": "A public endpoint was asked for explicitly with --public.",
    "CKV_AWS_301": "A public endpoint was asked for explicitly with --public.",
    "CKV_AWS_309": "A public endpoint was asked for explicitly with --public.",
    # Logs
    "CKV_AWS_158": "Logs hold request metadata and metrics only and are encrypted at rest by "
    "CloudWatch Logs; "
    "a customer-managed key is the account owner's choice.",
    "CKV_AWS_338": "Log retention was shortened explicitly with --log-retention-days.",
    # SNS
    "CKV_AWS_26": "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed "
    "SNS key; notifications carry alarm states only.",
    # S3 model bucket
    "CKV_AWS_18": "One object read by one role; CloudTrail data events, not server access logs, "
    "are the audit trail for it.",
    "CKV_AWS_144": "The model is rebuilt and re-uploaded by slpack; a replica bucket adds cost "
    "and no recovery the bundle lacks.",
    "CKV_AWS_145": "The model is not secret (it ships in function.zip too); SSE-S3 keeps the "
    "function free of KMS permissions.",
    "CKV2_AWS_62": "Nothing reacts to uploads; the function fetches the model at cold start.",
    # Google Cloud (the gcp target)
    "CKV_GCP_62": "One source zip read by Cloud Build at deploy time; Cloud Audit Logs, not "
    "a second log bucket, are its audit trail.",
    "CKV_GCP_124": "The function is an HTTPS endpoint called from outside any VPC, like a Lambda "
    "Function URL; "
    "IAM (roles/run.invoker with an identity token) guards it.",
    "CKV_GCP_102": "A public endpoint was asked for explicitly with --public.",
    # Azure (the azure target)
    "CKV_AZURE_221": "The function is an HTTPS endpoint called over the internet; every route "
    "needs a function key unless --public.",
    "CKV_AZURE_212": "The serverless plans (Flex Consumption, Consumption) add and remove "
    "instances themselves; a fixed instance count applies to dedicated plans only.",
    "CKV_AZURE_225": "Zone redundancy keeps instances in every zone, billed while idle (Elastic "
    "Premium, or Flex Consumption with always-ready instances); the default plan scales to zero.",
    "CKV_AZURE_43": "The name is computed (st + 22 hex digits of a sha1): always 24 lower-case "
    "letters and digits, "
    "which checkov cannot evaluate.",
    "CKV_AZURE_59": "The host's own storage, reached over its public endpoint: a private endpoint "
    "needs a virtual network the app is integrated with, which this template does not create; "
    "anonymous blob access is off.",
    "CKV2_AZURE_33": "The host's own storage: a private endpoint needs a virtual network the app "
    "is integrated with, which this template does not create (Linux Consumption has none).",
    "CKV2_AZURE_40": "The host connects with the account key (AzureWebJobsStorage, and the "
    "package container on Flex Consumption) and Linux Consumption runs the package from a SAS "
    "URL; both need Shared Key.",
    "CKV2_AZURE_21": "Holds the app's deployment packages only, written by each publish and read "
    "by the platform; blob read logging would record the platform's own reads.",
    "CKV_AZURE_206": "Holds the host's state and the deployed package, both recreated by a deploy; "
    "geo-replication protects nothing the bundle lacks.",
    "CKV_AZURE_33": "Queue storage serves no trigger here (HTTP only); the host's queues carry "
    "no data worth a read log.",
    "CKV2_AZURE_1": "Holds the host's state and the deployed package, no user data; encrypted "
    "at rest with Microsoft-managed keys, "
    "a customer-managed key needs a Key Vault only the subscription owner can set up.",
}


@dataclass(frozen=True)
class Skip:
    """One suppressed check and why."""

    check: str

    def __post_init__(self) -> None:
        if self.check not in REASONS:
            raise KeyError(f"suppression {self.check} has no reason in REASONS")

    @property
    def reason(self) -> str:
        return REASONS[self.check]


def skips(*checks: str) -> tuple[Skip, ...]:
    """Skips for ``checks``; an unknown id is a bug (every suppression needs its reason)."""
    return tuple(Skip(c) for c in checks)


def function_skips(reserved_concurrency: int | None, signed: bool) -> tuple[Skip, ...]:
    """What a slpack Lambda function accepts (the concurrency cap only while none is set, code
    signing only while no signing profile is given)."""
    checks = ["CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"]
    if not signed:
        checks.append("CKV_AWS_272")
    if reserved_concurrency is None:
        checks.append("CKV_AWS_115")
    return skips(*checks)


def log_group_skips(retention_days: int) -> tuple[Skip, ...]:
    """A log group without a customer-managed key (and with a short retention, when asked)."""
    return skips("CKV_AWS_158", *(["CKV_AWS_338"] if retention_days < 365 else []))


def model_bucket_skips() -> tuple[Skip, ...]:
    return skips("CKV_AWS_18", "CKV_AWS_144", "CKV_AWS_145", "CKV2_AWS_62")
