"""A sign-in proxy for the browser tests, as oauth2-proxy would sit in front of SalesCast: every request
(HTTP and the WebSocket Streamlit talks over) is forwarded to the app with ``X-Forwarded-User: <user>``;
a header of that name sent by the browser (a forgery) is dropped. One proxy per user, on its own port.

    python -m tests.e2e.signin_proxy LISTEN_PORT UPSTREAM_PORT USER
"""
from __future__ import annotations

import sys

import tornado.httpclient
import tornado.ioloop
import tornado.web
import tornado.websocket

HEADER = "X-Forwarded-User"
HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length", "content-encoding",
       "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "accept-encoding"}


def make_app(upstream: int, user: str) -> tornado.web.Application:
    base = f"127.0.0.1:{upstream}"

    def headers(req) -> dict:
        out = {k: v for k, v in req.headers.get_all() if k.lower() not in HOP and k.lower() != HEADER.lower()}
        out[HEADER] = user
        return out

    class WS(tornado.websocket.WebSocketHandler):
        def check_origin(self, origin):
            return True

        def select_subprotocol(self, subprotocols):
            return subprotocols[0] if subprotocols else None

        async def open(self, *args):
            req = tornado.httpclient.HTTPRequest(f"ws://{base}{self.request.uri}", headers=headers(self.request))
            self.up = await tornado.websocket.websocket_connect(
                req, subprotocols=self.request.headers.get("Sec-WebSocket-Protocol", "").replace(" ", "").split(",")
                or None)
            tornado.ioloop.IOLoop.current().spawn_callback(self.pump)

        async def pump(self):
            while True:
                msg = await self.up.read_message()
                if msg is None:
                    self.close()
                    return
                await self.write_message(msg, binary=isinstance(msg, bytes))

        async def on_message(self, message):
            await self.up.write_message(message, binary=isinstance(message, bytes))

        def on_close(self):
            if getattr(self, "up", None) is not None:
                self.up.close()

    class HTTP(tornado.web.RequestHandler):
        SUPPORTED_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS")

        async def _any(self):
            client = tornado.httpclient.AsyncHTTPClient()
            body = self.request.body if self.request.method in ("POST", "PUT") else None
            resp = await client.fetch(f"http://{base}{self.request.uri}", method=self.request.method,
                                      headers=headers(self.request), body=body, raise_error=False,
                                      follow_redirects=False, allow_nonstandard_methods=True)
            self.set_status(resp.code)
            self.clear_header("Content-Type")
            for k, v in resp.headers.get_all():
                if k.lower() in HOP:
                    continue
                if k.lower() == "set-cookie":
                    self.add_header(k, v)
                else:
                    self.set_header(k, v)
            if resp.body:
                self.write(resp.body)

        get = post = put = delete = head = options = _any

    return tornado.web.Application([(r"/_stcore/stream", WS), (r".*", HTTP)])


def main(argv: list[str]) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    port, upstream, user = int(argv[0]), int(argv[1]), argv[2]
    make_app(upstream, user).listen(port, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main(sys.argv[1:])
