"""TLS for the webhook server: one SSLContext, reloaded when the certificate files change
(so rotation needs no restart)."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl

log = logging.getLogger("podsec.webhook")


class CertReloader:
    """Serves from one SSLContext and loads new certificate files into it when they change."""

    def __init__(self, cert: str, key: str) -> None:
        self.cert, self.key = cert, key
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])
        self._stamp = self._current()
        self.context.load_cert_chain(cert, key)
        self.reloads = 0

    def _current(self) -> tuple[float, int, float, int]:
        c, k = os.stat(self.cert), os.stat(self.key)
        return c.st_mtime, c.st_size, k.st_mtime, k.st_size

    def check(self) -> bool:
        """Reload when the files changed; True when a new certificate is now served."""
        try:
            stamp = self._current()
            if stamp == self._stamp:
                return False
            # Try the pair in a scratch context first: loading into the live one replaces the
            # certificate before it checks the key, so a mismatched pair (files caught mid-update)
            # would break handshakes until the next reload.
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert, self.key)
            self.context.load_cert_chain(self.cert, self.key)  # new handshakes use it; old ones keep theirs
        except (OSError, ssl.SSLError) as exc:  # half-written files: keep serving the old pair, try again
            log.warning("certificate reload failed; keeping the current one", extra={"fields": {"error": str(exc)}})
            return False
        self._stamp = stamp
        self.reloads += 1
        log.info("certificate reloaded", extra={"fields": {"cert": self.cert}})
        return True


async def reload_loop(certs: CertReloader, interval: float) -> None:
    """Check the certificate files every ``interval`` seconds, for good (cancel the task to stop)."""
    while True:
        await asyncio.sleep(interval)
        certs.check()
