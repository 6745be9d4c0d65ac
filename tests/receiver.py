"""A real HTTP server for webhook tests: it records every request and answers as told
(a status sequence, a delay, or holding the request until released)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.processes import wait_until


class Receiver:
    def __init__(self, statuses=(200,), delay=0.0):
        self.statuses = list(statuses)
        self.delay = delay
        self.hold = None  # a threading.Event: requests wait on it while it is not set
        self.received = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append({"headers": dict(self.headers), "body": body,
                                              "path": self.path})
                    status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 \
                        else receiver.statuses[0]
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/kiryana"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, event=None):
        with self.lock:
            return [dict(r, json=json.loads(r["body"])) for r in self.received
                    if event is None or r["headers"].get("X-Kiryana-Event") == event]

    def wait_for(self, count, event=None, timeout=15):
        return wait_until(lambda: len(self.events(event)) >= count and self.events(event),
                          timeout=timeout, interval=0.05,
                          what=f"{count} webhook requests ({event or 'any event'})")

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
