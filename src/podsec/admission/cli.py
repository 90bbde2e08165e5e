"""``podsec webhook serve|manifests|cert``: wiring only."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from podsec.config import load
from podsec.findings import EXIT_CLEAN, EXIT_ERROR

if TYPE_CHECKING:
    from podsec.admission.server import ServerSettings


def run(args: argparse.Namespace) -> int:
    if args.webhook_command == "cert":
        from podsec.admission import certs

        ca = None
        if args.reuse_ca:
            try:
                ca = certs.load_ca(args.dir)
            except certs.CertError as exc:
                print(f"podsec: error: --reuse-ca: {exc}", file=sys.stderr)
                return EXIT_ERROR
        written = certs.generate(
            args.dir,
            service=args.service,
            namespace=args.namespace,
            days=args.days,
            extra_hosts=tuple(args.host),
            ca=ca,
        )
        print(f"wrote {written.ca_cert}, {written.cert}, {written.key} (and ca.key: keep it secret)")
        return EXIT_CLEAN
    if args.webhook_command == "manifests":
        from podsec.admission import manifests

        ca_bundle = None
        if args.tls == "secret":
            if not args.ca_bundle:
                print("podsec: error: --tls secret needs --ca-bundle FILE (see podsec webhook cert)", file=sys.stderr)
                return EXIT_ERROR
            with open(args.ca_bundle, "rb") as fh:
                ca_bundle = fh.read()
        options = manifests.Options(
            namespace=args.namespace,
            image=args.image,
            tls=args.tls,
            ca_bundle=ca_bundle,
            failure_policy=args.failure_policy,
            failure_mode=args.failure_mode,
            timeout_seconds=args.timeout_seconds,
            replicas=args.replicas,
            workers=args.workers,
            priority_class=args.priority_class,
            api_server_cidrs=tuple(args.api_server_cidr),
            cert_manager_namespace=args.cert_manager_namespace,
        )
        try:
            sys.stdout.write(manifests.render(options))
        except ValueError as exc:
            print(f"podsec: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        return EXIT_CLEAN
    return _serve(args)


def server_settings_from(args: argparse.Namespace) -> ServerSettings:
    """The server's bounds from ``webhook serve``'s flags (the manifests' memory limit is computed
    from `ServerSettings` defaults: tests check that the flags' defaults give the same)."""
    from podsec.admission.guard import Limits
    from podsec.admission.server import ServerSettings, cpu_count

    workers = args.workers or cpu_count()
    limits = Limits(
        max_connections=args.max_connections,
        handshake_timeout=args.handshake_timeout,
        header_timeout=args.header_timeout,
        idle_timeout=args.idle_timeout,
    )
    return ServerSettings(
        workers=workers,
        deadline=args.review_deadline,
        queue=args.queue if args.queue is not None else 4 * workers,
        max_body=args.max_body_bytes,
        body_budget=args.body_budget_bytes,
        inline_bytes=args.inline_bytes,
        worker_memory=args.worker_memory_bytes,
        limits=limits,
    )


def _serve(args: argparse.Namespace) -> int:
    from podsec.admission import logs
    from podsec.admission.guard import BodyBudget
    from podsec.admission.namespaces import NamespaceLabels, StaticNamespaces, WatchedNamespaces
    from podsec.admission.pool import Pool
    from podsec.admission.review import Reviewer
    from podsec.admission.server import CertReloader, State, serve, worker_argv
    from podsec.admission.settings import settings

    logs.setup(sys.stderr.buffer)
    config = load(args.config)
    cfg = settings(config.webhook, config)
    try:
        certs = CertReloader(args.tls_cert, args.tls_key)
    except (OSError, ValueError) as exc:
        print(f"podsec: error: cannot load the TLS certificate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    namespaces: NamespaceLabels
    if cfg.namespaces is not None:
        namespaces = StaticNamespaces(cfg.namespaces)
    else:
        from lightkube import AsyncClient
        from lightkube.core.exceptions import ConfigError as KubeConfigError

        try:
            namespaces = WatchedNamespaces(AsyncClient())
        except KubeConfigError as exc:
            print(
                f"podsec: error: no Kubernetes API credentials ({exc}); run in a cluster with a service account, "
                "set KUBECONFIG, or give namespace labels in the config (webhook.namespaces)",
                file=sys.stderr,
            )
            return EXIT_ERROR
    server_settings = server_settings_from(args)
    workers = server_settings.workers
    pool = Pool(
        workers,
        worker_argv(args.config, server_settings.worker_memory),
        queue=server_settings.queue,
        rss_limit=server_settings.worker_memory // 2,
    )
    state = State(
        Reviewer(cfg.review),
        namespaces,
        certs=certs,
        reload_interval=args.cert_reload_seconds,
        settings=server_settings,
        pool=pool,
        budget=BodyBudget(server_settings.body_budget),
    )
    serve(
        state,
        host=args.host,
        port=args.port,
        graceful_seconds=args.graceful_seconds,
        shutdown_delay=args.shutdown_delay,
    )
    return EXIT_CLEAN
