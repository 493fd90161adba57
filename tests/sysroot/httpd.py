#!/usr/bin/env python3
"""Tiny HTTP server for the agent's sysroot tests (loopback only).

  httpd.py DIR PORTFILE
GET /NAME serves DIR/NAME with an ETag (sha256 of the content) and answers
If-None-Match with 304.  POST /report stores the body in DIR/report.json.
Every request is logged to DIR/requests.log as "METHOD PATH INM" lines.
The chosen port is written to PORTFILE.
"""
import hashlib
import http.server
import os
import sys

root, portfile = sys.argv[1], sys.argv[2]


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _log(self):
        with open(os.path.join(root, "requests.log"), "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("If-None-Match", "-")))

    def do_GET(self):
        self._log()
        p = os.path.join(root, os.path.basename(self.path))
        if not os.path.isfile(p):
            self.send_response(404)
            self.end_headers()
            return
        body = open(p, "rb").read()
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self._log()
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with open(os.path.join(root, "report.json"), "wb") as f:
            f.write(body)
        self.send_response(204)
        self.end_headers()


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
