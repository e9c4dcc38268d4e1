"""A service still on the legacy aws-xray-sdk, for ecs-sidecar/tests/mixed_fleet.rs.

Flask with the SDK's own XRayMiddleware and `requests` patched by the SDK;
every SDK setting left at its default except what the environment says:
AWS_XRAY_TRACING_NAME (the segment name), AWS_XRAY_DAEMON_ADDRESS (the
sidecar's UDP receiver) and, for one case, AWS_XRAY_NOOP_ID.

Prints `PORT <n>` once listening on 127.0.0.1 (a free port). Each request
puts annotations and metadata on its segment, calls the first URL of the
comma-separated `X-Fleet-Chain` header (handing on the rest), and answers
JSON: {"service", "received": its X-Amzn-Trace-Id, "downstream": the
next service's answer or null}.
"""

import os
import sys

import requests
from aws_xray_sdk.core import patch, xray_recorder
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

SERVICE = os.environ["AWS_XRAY_TRACING_NAME"]

app = Flask(SERVICE)
XRayMiddleware(app, xray_recorder)
patch(["requests"])


@app.route("/")
def handle():
    xray_recorder.put_annotation("fleet_service", SERVICE)
    xray_recorder.put_annotation("order_id", "o-42")
    xray_recorder.put_metadata("cart", {"items": 3, "service": SERVICE}, "shop")
    chain = [u for u in request.headers.get("X-Fleet-Chain", "").split(",") if u]
    downstream = None
    if chain:
        resp = requests.get(
            chain[0], headers={"X-Fleet-Chain": ",".join(chain[1:])}, timeout=30
        )
        resp.raise_for_status()
        downstream = resp.json()
    return jsonify(
        service=SERVICE,
        received=request.headers.get("X-Amzn-Trace-Id"),
        downstream=downstream,
    )


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    sys.stdout.flush()
    server.serve_forever()
