"""A trusted issuer for tests, with no network beyond loopback: its own key pair, its JWKS served
on 127.0.0.1, and the tokens it signs."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from aicore.identity.keys import SigningKey

ISSUER = "https://auth.studio.example"
AUDIENCE = "the-game"
NAME = "studio-auth"


class ProviderStandIn:
    def __init__(self) -> None:
        self.key = SigningKey.generate()
        jwks = json.dumps({"keys": [self.key.public_jwk]}).encode()

        class Jwks(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks if self.path == "/jwks.json" else b"{}")

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
        self._thread = threading.Thread(target=self._server.serve_forever, name="provider-jwks", daemon=True)

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    def configuration(self) -> str:
        """What IDENTITY_TRUSTED_ISSUERS says about this provider."""
        return json.dumps(
            [
                {
                    "name": NAME,
                    "issuer": ISSUER,
                    "audience": AUDIENCE,
                    "jwks_url": self.jwks_url,
                    "player_claim": "sub",
                }
            ]
        )

    def token(self, subject: str, key: SigningKey | None = None, **claims: Any) -> str:
        signer = key or self.key
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, signer.private_key, "ES256", {"kid": signer.kid})

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
