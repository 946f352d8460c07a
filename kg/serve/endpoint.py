"""Where an HTTP endpoint on this machine listens: shared by the Oxigraph server handle and the read-only front."""

from __future__ import annotations


__all__ = ["HttpEndpoint"]


class HttpEndpoint:
    """``base`` and ``query_url`` of something listening on ``host``:``port`` (an IPv6 host in brackets)."""

    host: str
    port: int

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def query_url(self) -> str:
        return f"{self.base}/query"
