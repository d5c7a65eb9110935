-- wrk script: POST the body in $SLPACK_BODY_FILE (default: the personalization example request).
local path = os.getenv("SLPACK_BODY_FILE") or "examples/personalization/request.json"
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["content-type"] = "application/json"
