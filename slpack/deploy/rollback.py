"""Plan a rollback: put all of ``live``'s traffic back on the version before.

During a canary (``live`` on version N with a share sent to N+1) the rollback ends the canary:
every request goes to N again. Otherwise ``live`` moves to the newest published version older
than the one it is on, or to the version given with ``--to``. Only the alias moves: versions are
immutable, so the code, configuration and model of the earlier version are exactly as deployed.
"""

from __future__ import annotations

from slpack.deploy.function import alias_step
from slpack.deploy.state import FunctionState, alias_weights
from slpack.deploy.steps import Plan
from slpack.deployment import ALIAS
from slpack.errors import SlpackError


def plan_rollback(state: FunctionState, region: str, to: str | None = None) -> Plan:
    """The one alias step of a rollback of ``state`` (to ``to`` if given)."""
    name = state.name
    if not state.exists:
        raise SlpackError(f"there is no function {name} in {region}; check the name and --region.")
    if state.alias is None:
        raise SlpackError(
            f"the function {name} has no {ALIAS} alias; deploy it with slpack deploy first."
        )
    current = state.alias["FunctionVersion"]
    if to is not None:
        if state.version(to) is None:
            known = ", ".join(v["Version"] for v in state.versions) or "none"
            raise SlpackError(
                f"{name} has no version {to} (published: {known}); pass one of those to --to."
            )
        target = to
    elif alias_weights(state.alias):
        target = current  # end the canary: the stable version takes all traffic again
    else:
        earlier = [v["Version"] for v in state.versions if int(v["Version"]) < int(current)]
        if not earlier:
            raise SlpackError(
                f"{ALIAS} is on version {current}, the oldest version of {name}; there is "
                "nothing to roll back to."
            )
        target = earlier[-1]
    return Plan(name, region, (alias_step(state, target, {}),), {"version": target})
