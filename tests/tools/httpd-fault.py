#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A misbehaving HTTP server on 127.0.0.1 for fetch tests: errors, cut bodies, wrong lengths, stalls.
"""Usage: httpd-fault.py ROOT

Serves files under ROOT on 127.0.0.1, on a free port that it prints on the
first line of stdout. The first path component picks the behaviour:

  /ok/FILE             the file, with ETag and Last-Modified; honours
                       If-None-Match and If-Modified-Since with 304
  /fail/N/FILE         HTTP 500 for the first N requests of this path, then the file
  /status/CODE/FILE    always HTTP CODE
  /close/FILE          full Content-Length, half the body, then the connection closes
  /badlen/FILE         Content-Length 1000 bytes too large, the whole body, then close
  /short/FILE          no Content-Length, half the body, then close
  /stall-head/FILE     accepts the request and never answers
  /stall-body/FILE     headers and 100 bytes, then silence
  /stall-apk/FILE      as /stall-body/ for *.apk, as /ok/ for anything else (a whole
                       repository whose indexes load and whose packages hang)
  /slow/MS/FILE        waits MS milliseconds, then the file
  /hits/PATH           how many requests PATH got (plain text)
  /stats               "max_concurrent N" (requests in flight at once)
"""
import email.utils
import hashlib
import http.server
import os
import sys
import threading
import time

ROOT = os.path.abspath(sys.argv[1])
lock = threading.Lock()
hits = {}
inflight = 0
max_inflight = 0


def read_file(rel):
    path = os.path.realpath(os.path.join(ROOT, rel))
    if not path.startswith(ROOT + os.sep) or not os.path.isfile(path):
        return None, None
    with open(path, "rb") as f:
        return f.read(), os.stat(path)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, code, body, extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global inflight, max_inflight
        parts = self.path.lstrip("/").split("/")
        mode = parts[0]
        if mode == "hits":
            key = "/" + "/".join(parts[1:])
            with lock:
                n = hits.get(key, 0)
            return self.send_body(200, b"%d\n" % n)
        if mode == "stats":
            with lock:
                m = max_inflight
            return self.send_body(200, b"max_concurrent %d\n" % m)
        with lock:
            hits[self.path] = hits.get(self.path, 0) + 1
            count = hits[self.path]
            inflight += 1
            max_inflight = max(max_inflight, inflight)
        try:
            self.serve(mode, parts[1:], count)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with lock:
                inflight -= 1

    def serve(self, mode, rest, count):
        if mode in ("fail", "status", "slow"):
            arg, rest = int(rest[0]), rest[1:]
        body, st = read_file("/".join(rest))
        if mode == "status":
            return self.send_body(arg, b"status %d\n" % arg)
        if mode == "fail" and count <= arg:
            return self.send_body(500, b"try again\n")
        if body is None:
            return self.send_body(404, b"not found\n")
        if mode == "stall-apk":
            mode = "stall-body" if rest[-1].endswith(".apk") else "ok"
        if mode == "slow":
            time.sleep(arg / 1000.0)
        if mode == "stall-head":
            time.sleep(3600)
            return
        if mode in ("ok", "fail", "slow"):
            etag = '"%s"' % hashlib.sha1(body).hexdigest()
            lastmod = email.utils.formatdate(int(st.st_mtime), usegmt=True)
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if (inm and inm == etag) or (not inm and ims and ims == lastmod):
                self.send_response(304)
                self.send_header("Connection", "close")
                self.end_headers()
                return
            return self.send_body(200, body, [("ETag", etag), ("Last-Modified", lastmod)])
        self.send_response(200)
        if mode == "close":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
        elif mode == "badlen":
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            self.wfile.write(body)
        elif mode == "short":
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
        elif mode == "stall-body":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:100])
            self.wfile.flush()
            time.sleep(3600)
        else:
            self.end_headers()
        self.wfile.flush()
        self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    # One write(2), so the reader gets the whole line at once and may close the pipe.
    os.write(1, b"%d\n" % srv.server_address[1])
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    srv.serve_forever()


if __name__ == "__main__":
    main()
