"""A plain HTTP file server on 127.0.0.1 for the demo and the molecule scenarios.

It serves a directory of built releases and appends one JSON line per request
(path, status, bytes sent) to a log file, so tests can count how often each
artifact was downloaded. It is a real HTTP server (http.server), not a stand-in:
bundle_fetch talks to it exactly as it would to any static web server.
"""

import argparse
import functools
import http.server
import json
import os
import sys
import threading


class LoggingHandler(http.server.SimpleHTTPRequestHandler):
    log_path = None
    lock = threading.Lock()

    def copyfile(self, source, outputfile):
        sent = 0
        while True:
            block = source.read(1024 * 1024)
            if not block:
                break
            outputfile.write(block)
            sent += len(block)
        self._sent = sent

    def log_request(self, code="-", size="-"):
        self._code = code

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def handle_one_request(self):
        self._sent = 0
        self._code = None
        super().handle_one_request()
        if self._code is None or not self.log_path:
            return
        entry = {"path": self.path, "status": int(getattr(self._code, "value", self._code) or 0),
                 "bytes": self._sent, "range": self.headers.get("Range") if self.headers else None}
        with self.lock:
            with open(self.log_path, "a") as handle:
                handle.write(json.dumps(entry) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="directory to serve")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--log", help="JSON-lines request log")
    parser.add_argument("--pidfile")
    args = parser.parse_args(argv)
    LoggingHandler.log_path = args.log
    handler = functools.partial(LoggingHandler, directory=os.path.abspath(args.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    if args.pidfile:
        with open(args.pidfile, "w") as handle:
            handle.write("%d\n" % os.getpid())
    print("serving %s on http://127.0.0.1:%d/" % (args.root, args.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
