"""Loopback servers for the weights tests: plain files over HTTP, and a fake Google Drive.

:class:`Server` serves files with ranges, redirects, cut connections and hangs.
:class:`FakeDrive` serves, on such a server, the pages gdown reads from Google Drive in
their real shapes: a folder's ``embeddedfolderview`` listing (files and subfolders), the
``uc?id=`` confirmation page of a large file, and the file from
``drive.usercontent.google.com/download`` with ``Content-Disposition`` and byte ranges.
:func:`route_gdown_to` points gdown's HTTP session at the server, and nothing else.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    """A loopback HTTP server with files, ranges, redirects, cut connections and hangs.

    ``route(path_and_query) -> key`` maps a request to a key of ``files`` (default: the
    path as requested); ``headers[key]`` adds response headers for that key.
    """

    def __init__(self, route: Callable[[str], str] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.headers: dict[str, dict[str, str]] = {}
        self.redirects: dict[str, str] = {}
        self.cuts: dict[str, list[int]] = {}  # key -> byte counts after which to cut, in turn
        self.hang: set[str] = set()
        self.stalls: dict[str, list[int]] = {}  # key -> send this many bytes, then go silent
        self.ranges = True
        self.requests: list[tuple[str, str | None]] = []
        self.sent = 0
        self.release = threading.Event()
        self.route = route or (lambda path: path)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return None

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                key = server.route(self.path)
                if key in server.hang:
                    server.release.wait(10)
                    return
                if key in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[key])
                    self.end_headers()
                    return
                data = server.files.get(key)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                wanted = self.headers.get("Range")
                if wanted and server.ranges:
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                for name, value in server.headers.get(key, {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                cuts, stalls = server.cuts.get(key), server.stalls.get(key)
                stall = bool(stalls) and not cuts
                if cuts or stalls:
                    body = body[: (cuts or stalls).pop(0)]
                    self.close_connection = True
                self.wfile.write(body)
                self.wfile.flush()
                server.sent += len(body)
                if stall:
                    server.release.wait(5)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


DRIVE_HOSTS = ("https://drive.google.com/", "https://drive.usercontent.google.com/")
HTML = {"Content-Type": "text/html; charset=utf-8"}


def drive_route(path: str) -> str:
    """The key of a Drive request: ``folder:<id>``, ``uc:<id>``, ``download:<id>``."""
    parts = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(parts.query)
    ident = query.get("id", [""])[0]
    kind = {"/embeddedfolderview": "folder", "/uc": "uc", "/download": "download"}.get(parts.path)
    return f"{kind}:{ident}" if kind else path


class FakeDrive:
    """Folders and files of a fake Google Drive, served by a :class:`Server`."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.count = 0

    def _id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count:04d}".ljust(33, "x")  # Drive ids: 33 characters

    def folder(self, name: str, entries: dict[str, object]) -> str:
        """A folder holding ``entries`` (name -> bytes for a file, dict for a subfolder);
        returns its id. Its page is the embedded folder view gdown parses."""
        folder_id = self._id("F")
        links = []
        for child, content in entries.items():
            if isinstance(content, dict):
                child_id = self.folder(child, content)
                href = f"https://drive.google.com/drive/folders/{child_id}"
            else:
                assert isinstance(content, bytes)
                child_id = self.file(child, content)
                href = f"https://drive.google.com/file/d/{child_id}/view?usp=drive_web"
            links.append(f'<div class="flip-entry"><a href="{href}" target="_blank">'
                         f'<div class="flip-entry-title">{child}</div></a></div>')
        page = (f"<!DOCTYPE html><html><head><title>{name}</title></head><body>"
                f'<div class="flip-entries">{"".join(links)}</div></body></html>')
        self.server.files[f"folder:{folder_id}"] = page.encode()
        self.server.headers[f"folder:{folder_id}"] = HTML
        return folder_id

    def file(self, name: str, data: bytes) -> str:
        """A file too large for Drive's virus scan: ``uc?id=`` answers with the confirmation
        form, whose target serves the bytes."""
        file_id = self._id("f")
        form = (
            '<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>'
            '<body><div class="uc-main"><p class="uc-warning-caption">Google Drive can\'t scan '
            f'this file for viruses.</p><p class="uc-warning-subcaption">{name} is too large '
            'for Google to scan for viruses.</p>'
            '<form id="download-form" action="https://drive.usercontent.google.com/download" '
            'method="get"><input type="submit" id="uc-download-link" value="Download anyway"/>'
            f'<input type="hidden" name="id" value="{file_id}">'
            '<input type="hidden" name="export" value="download">'
            '<input type="hidden" name="confirm" value="t">'
            '<input type="hidden" name="uuid" value="0b5f6c1e-1111-2222-3333-444455556666">'
            "</form></div></body></html>")
        self.server.files[f"uc:{file_id}"] = form.encode()
        self.server.headers[f"uc:{file_id}"] = HTML
        self.server.files[f"download:{file_id}"] = data
        self.server.headers[f"download:{file_id}"] = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{name}"',
            "ETag": f'"{file_id}-etag"',
        }
        return file_id

    def replace(self, file_id: str, data: bytes) -> None:
        """Change a file's bytes (the upstream changed)."""
        self.server.files[f"download:{file_id}"] = data


def route_gdown_to(monkeypatch, server: Server) -> None:
    """Make the HTTP sessions gdown opens send Google Drive requests to ``server``."""
    import importlib

    import requests

    # gdown's package exports functions named like these modules: take the modules themselves
    files = importlib.import_module("gdown.download")
    folders = importlib.import_module("gdown.download_folder")

    class Loopback(requests.adapters.HTTPAdapter):
        def send(self, request, **kwargs):
            parts = urllib.parse.urlsplit(request.url)
            request.url = server.base + parts.path + (f"?{parts.query}" if parts.query else "")
            return super().send(request, **{**kwargs, "proxies": {}})

    original = files._get_session

    def session(**kwargs):
        sess, cookies = original(**kwargs)
        for host in DRIVE_HOSTS:
            sess.mount(host, Loopback())
        return sess, cookies

    monkeypatch.setattr(files, "_get_session", session)
    monkeypatch.setattr(folders, "_get_session", session)
