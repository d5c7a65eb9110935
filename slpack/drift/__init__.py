"""Data drift, measured against the bundle's baseline (docs/drift.md).

The handler counts every answered request into the baseline's bins (``slpack_handler.drift``);
this package turns counts into the population stability index and says where: from a
function's log lines or a file of new rows (``slpack drift``), and as the Logs Insights, metric
math, KQL and PromQL the rendered dashboards and alarms compute it with (:mod:`.queries`).
Every one of them uses the same formula, :func:`slpack.drift.psi.psi`.
"""
