"""A local mirror for the download tests: an ``http.server`` on 127.0.0.1 serving files the tests
write, with failures on demand (HTTP errors, a connection cut mid-file), and registry entries
that point at it through ``COURSEKIT_DATA_MIRROR``."""

from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from coursekit.data.registry import CourseFile, Upstream

HOST = "data.example.org"  # upstream host of the test entries; only its mirror copy is served


@dataclass
class Mirror:
    """The running mirror: ``root`` is the served folder, ``fail`` maps a URL path to an HTTP status
    (404, 500) or to ``("cut", n)``: send the full Content-Length, then n bytes, then hang up."""

    root: Path
    url: str
    host: str = HOST
    requests: list[str] = field(default_factory=list)
    fail: dict[str, object] = field(default_factory=dict)

    def add(self, name: str, data: bytes, *, sha256: str | None = None) -> Upstream:
        """Serve ``data`` as ``https://data.example.org/<name>``; return its registry entry (with
        ``sha256``, or the data's real one)."""
        path = self.root / HOST / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return Upstream(f"https://{HOST}/{name}?download=1", sha256 or hashlib.sha256(data).hexdigest(),
                        len(data), "made by the test")

    @staticmethod
    def entry(name: str, path: str, upstream: list[Upstream], convert: str = "copy") -> CourseFile:
        """A registry entry for test files."""
        return CourseFile(name=name, path=path, upstream=tuple(upstream), convert=convert,
                          conversion="test", licence="test", local_sha256="0" * 64)


class _Handler(SimpleHTTPRequestHandler):
    mirror: Mirror

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.mirror.requests.append(path)
        failure = self.mirror.fail.get(path)
        if isinstance(failure, int):
            self.send_error(failure)
        elif isinstance(failure, tuple):
            data = (self.mirror.root / path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: failure[1]])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            super().do_GET()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A mirror on 127.0.0.1 with ``COURSEKIT_DATA_MIRROR`` pointing at it, downloads allowed,
    no ``COURSEKIT_DATA`` and an empty cache under ``tmp_path``."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    m = Mirror(root, f"http://127.0.0.1:{server.server_address[1]}/")
    handler.mirror = m
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("COURSEKIT_DATA_MIRROR", m.url)
    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)
    monkeypatch.delenv("COURSEKIT_DATA", raising=False)
    monkeypatch.setenv("COURSEKIT_CACHE", str(tmp_path / "cache"))
    yield m
    server.shutdown()
    server.server_close()
