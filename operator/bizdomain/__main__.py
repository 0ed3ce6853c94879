"""``python -m bizdomain``: run the operator (kopf) against the host in KUBECONFIG or in-cluster."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import kopf
from prometheus_client import start_http_server

import bizdomain.handlers  # noqa: F401  (registers the handlers)
from bizdomain.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bizdomain", description="Run the bizdomain operator.")
    parser.add_argument("--liveness", default="", help="e.g. http://0.0.0.0:8081/healthz")
    parser.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics (0: off)")
    parser.add_argument("--metrics-address", default="127.0.0.1")
    parser.add_argument("--peering", default="", help="kopf peering name for HA (one active replica)")
    parser.add_argument("--priority", type=int, default=0, help="peering priority of this replica")
    parser.add_argument("--log-format", choices=("plain", "json"), default="plain")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    setup_logging(args.log_format, logging.DEBUG if args.verbose else logging.INFO)
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_address)

    asyncio.run(
        kopf.operator(
            clusterwide=True,
            standalone=not args.peering,
            peering_name=args.peering or None,
            priority=args.priority,
            liveness_endpoint=args.liveness or None,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
