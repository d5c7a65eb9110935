"""Run a bundle locally the way Lambda runs it (``slpack serve`` and ``slpack invoke``).

One concern per module: ``invocation`` (one event's life and its result), ``runtime_api`` (the
Lambda Runtime API of one execution environment), ``workers`` (awslambdaric processes and the
pool that feeds them), ``sandbox`` (the file system a worker sees), ``events`` (the event shapes
of Function URLs, API Gateway, ALB and direct calls), ``front`` (HTTP with Function URL
semantics), ``httpd`` (the HTTP plumbing both servers share) and ``local`` (all of it for a
bundle folder). See docs/serve.md.
"""
