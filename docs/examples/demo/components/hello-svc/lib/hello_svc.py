"""hello-svc: the demo service of groundwork.infra (kind systemd).

Answers GET / with its version, the greeting from its environment file and
the size of the credential systemd handed it (never the credential itself).
Standard library only; runs under the hardened unit of the systemd_service role.
"""

import argparse
import http.server
import os
import sys

VERSION = "1.0.0"


def credential_size(name):
    """Size in bytes of the systemd credential `name`, or None if absent."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory or not name:
        return None
    try:
        with open(os.path.join(directory, name), "rb") as handle:
            return len(handle.read())
    except OSError:
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    """GET / answers one line; anything else is 404."""

    def do_GET(self):  # pylint: disable=invalid-name
        if self.path not in ("/", "/healthz"):
            self.send_error(404)
            return
        name = os.environ.get("HELLO_CREDENTIAL", "")
        size = credential_size(name)
        body = "hello-svc %s: %s (credential %s: %s)\n" % (
            VERSION,
            os.environ.get("HELLO_GREETING", "hello"),
            name or "-",
            "missing" if size is None else "%d bytes" % size,
        )
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write("hello-svc: %s\n" % (format % args))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = http.server.HTTPServer((args.bind, args.port), Handler)
    print("hello-svc %s listening on %s:%d" % (VERSION, args.bind, args.port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
