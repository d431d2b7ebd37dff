"""The managed-identity endpoint of Azure Container Apps and App Service (IDENTITY_ENDPOINT with
IDENTITY_HEADER): GET ?resource=…&api-version=2019-08-01&client_id=… with the X-IDENTITY-HEADER
header; a token for a user-assigned identity assigned to the app, else an error.

It runs in a thread of its own: MSAL (and so the Bot Framework SDK) asks for managed-identity
tokens with blocking HTTP calls made on the event loop's thread, as in Azure.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

API_VERSION = "2019-08-01"


class FakeManagedIdentity:
    def __init__(self, *client_ids: str) -> None:
        self.client_ids = set(client_ids)  # the user-assigned identities the app has
        self.header = secrets.token_hex(16)
        self.requests: list[dict[str, Any]] = []
        self.issued: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/msi/token"

    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.header}

    def start(self) -> FakeManagedIdentity:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                status, body = fake.answer(self.path, dict(self.headers))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        url = urlparse(path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        self.requests.append({"path": url.path, "query": query, "headers": headers})
        if url.path != "/msi/token":
            return 404, {"statusCode": 404, "message": "Not found"}
        if {k.lower(): v for k, v in headers.items()}.get("x-identity-header") != self.header:
            return 401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER header is missing or wrong"}
        if query.get("api-version") != API_VERSION or not query.get("resource"):
            return 400, {"statusCode": 400, "message": "api-version and resource are required"}
        client_id = query.get("client_id", "")
        if client_id not in self.client_ids:
            return 400, {"statusCode": 400,
                         "message": "No User Assigned or Delegated Managed Identity found for specified ClientId"}
        token = f"msi-{secrets.token_hex(8)}"
        self.issued.append(token)
        return 200, {"access_token": token, "expires_on": str(int(time.time()) + 3600),
                     "resource": query["resource"], "token_type": "Bearer", "client_id": client_id}
