"""``python -m bizdomain``: run the operator (kopf) against the host in KUBECONFIG or in-cluster.

With ``--leader-election`` (the Helm chart's default) a replica first waits for the Lease
(see :mod:`bizdomain.leader`) and only then starts kopf; it exits if it loses the Lease,
so two replicas never write at the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
import uuid
from urllib.parse import urlparse

from aiohttp import web
from prometheus_client import start_http_server

from bizdomain import names
from bizdomain.config import Settings
from bizdomain.hostclient import host_kube
from bizdomain.leader import Elector, LeaseConfig
from bizdomain.logs import setup_logging
from bizdomain.members.rest import Kube, KubeError

log = logging.getLogger("bizdomain")
GENERATED_CLIENTS = ("kubernetes", "kubernetes_asyncio")


def import_handlers() -> None:
    """Import kopf and register the handlers, without the Kubernetes clients' generated models.

    kopf imports ``kubernetes.client`` and ``kubernetes_asyncio.client`` when they are installed,
    only to recognise their model objects, which the operator never hands it: measured, 46 MiB
    of the operator's memory. They are hidden while kopf is imported and importable again after
    (a kubeconfig that needs a credential plugin loads kubernetes_asyncio's loader then).
    """
    hidden = {name: sys.modules.get(name) for name in GENERATED_CLIENTS}
    for name in GENERATED_CLIENTS:
        sys.modules[name] = None  # type: ignore[assignment]  # a None entry makes an import fail
    try:
        import bizdomain.handlers  # noqa: F401, PLC0415  (registers the handlers; imports kopf)
    finally:
        for name, module in hidden.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bizdomain", description="Run the bizdomain operator.")
    parser.add_argument("--liveness", default="", help="e.g. http://0.0.0.0:8081/healthz")
    parser.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics (0: off)")
    parser.add_argument("--metrics-address", default="127.0.0.1")
    parser.add_argument("--leader-election", action="store_true", help="run only while holding the Lease")
    parser.add_argument("--lease-name", default="bizdomain-leader")
    parser.add_argument("--lease-duration", type=float, default=15.0, help="seconds")
    parser.add_argument("--lease-retry", type=float, default=2.0, help="seconds between renewals")
    parser.add_argument("--log-format", choices=("plain", "json"), default="plain")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


HOST_PLURALS = (names.PLURAL_DOMAIN, names.PLURAL_BINDING, names.PLURAL_MEMBER, names.PLURAL_SANDBOX)


async def wait_for_crds(kube: Kube, patience: float = 300.0) -> None:
    """Wait until the host serves every kind the operator watches, so that kopf's watches never
    start against a CRD that is not installed or whose storage is still initializing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    for plural in HOST_PLURALS:
        said = False
        while True:
            try:
                await kube.request("GET", f"/apis/{names.API_VERSION}/{plural}", query={"limit": "1"})
                break
            except KubeError as exc:
                if exc.status not in (0, 404, 429, 503) or loop.time() > deadline:
                    raise
                if not said:
                    log.info("waiting for the host to serve %s.%s (%s)", plural, names.GROUP, exc.reason or exc.status)
                    said = True
                await asyncio.sleep(1.0)


def quiet_repeated_stop_signals(loop: asyncio.AbstractEventLoop) -> None:
    """A second SIGTERM or Ctrl-C while kopf is stopping is not an error.

    kopf's signal handlers resolve one future; a second signal resolves it again, which asyncio
    reports as an ``InvalidStateError`` traceback. Say it in one line instead.
    """

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        error, handle = context.get("exception"), repr(context.get("handle", ""))
        if isinstance(error, asyncio.InvalidStateError) and "set_result" in handle and "Signals" in handle:
            log.info("stop signal received again: the operator is already stopping")
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


async def _operator(args: argparse.Namespace, stop_flag: asyncio.Event | None = None) -> None:
    import kopf  # noqa: PLC0415  (after import_handlers)

    quiet_repeated_stop_signals(asyncio.get_running_loop())
    kube = await host_kube(Settings.from_env())
    try:
        await wait_for_crds(kube)
    finally:
        await kube.close()
    await kopf.operator(
        clusterwide=True,
        standalone=True,
        liveness_endpoint=args.liveness or None,
        stop_flag=stop_flag,
    )


@contextlib.asynccontextmanager
async def _standby_probe(url: str):  # type: ignore[no-untyped-def]
    """Answer the liveness probe while waiting for the Lease (kopf serves it once running)."""
    if not url:
        yield
        return
    parsed = urlparse(url)
    app = web.Application()

    async def alive(_: web.Request) -> web.StreamResponse:
        return web.json_response({"standby": True})

    app.router.add_get(parsed.path or "/", alive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, parsed.hostname, parsed.port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _with_leader_election(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    kube = await host_kube(settings)
    identity = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    config = LeaseConfig(settings.namespace, args.lease_name, identity, args.lease_duration, args.lease_retry)
    elector = Elector(kube, config)
    try:
        async with _standby_probe(args.liveness):
            await elector.acquire()
        log.info("leader election: %s is the active replica", identity)
        stop_flag = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # stop kopf at once, then release the Lease
            loop.add_signal_handler(sig, stop_flag.set)
        keeper = asyncio.create_task(elector.keep(), name="bizdomain-lease")
        operator = asyncio.create_task(_operator(args, stop_flag), name="bizdomain-kopf")
        done, _ = await asyncio.wait({keeper, operator}, return_when=asyncio.FIRST_COMPLETED)
        if keeper in done:  # lost the Lease: stop writing at once, exit so the pod restarts
            stop_flag.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(operator, timeout=args.lease_duration / 2)
            return 1
        keeper.cancel()
        await elector.release()
        return 0
    finally:
        await kube.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_format, logging.DEBUG if args.verbose else logging.INFO)
    import_handlers()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_address)
    if args.leader_election:
        return asyncio.run(_with_leader_election(args))
    asyncio.run(_operator(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
