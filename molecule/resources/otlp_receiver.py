#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for the tests: otlp-receiver PORT FILE.

It takes what an OpenTelemetry SDK posts to /v1/traces (protobuf), answers as a
collector does, and appends one JSON line per request to FILE: the path, the
content type, each resource's attributes and its spans' names.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fields(data):
    """Yield (number, value) of a protobuf message: ints for varints, bytes for the rest."""
    at = 0

    def varint():
        nonlocal at
        value = shift = 0
        while True:
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while at < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, varint()
        elif wire == 1:
            yield number, data[at:at + 8]
            at += 8
        elif wire == 2:
            size = varint()
            yield number, data[at:at + size]
            at += size
        elif wire == 5:
            yield number, data[at:at + 4]
            at += 4
        else:
            raise ValueError(f"wire type {wire}")


def attribute(key_value):
    """A KeyValue with a string value, as (key, value)."""
    parts = dict(fields(key_value))
    value = dict(fields(parts.get(2, b""))).get(1, b"")
    return parts.get(1, b"").decode(), value.decode() if isinstance(value, bytes) else value


def resources(request):
    """ExportTraceServiceRequest: resource_spans(1) of resource(1) attributes(1), scope_spans(2) spans(2) name(5)."""
    for number, resource_spans in fields(request):
        if number != 1:
            continue
        attributes, names = {}, []
        for part, value in fields(resource_spans):
            if part == 1:
                attributes.update(attribute(kv) for n, kv in fields(value) if n == 1)
            elif part == 2:
                for n, span in fields(value):
                    if n == 2:
                        names.append(dict(fields(span)).get(5, b"").decode())
        yield {"attributes": attributes, "spans": names}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        record = {"path": self.path, "content_type": self.headers.get("Content-Type", "")}
        try:
            record["resources"] = list(resources(body))
        except (ValueError, IndexError, UnicodeDecodeError) as error:
            record["error"] = str(error)
        with open(self.server.record, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        # An empty ExportTraceServiceResponse: everything accepted.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler)
    server.record = sys.argv[2]
    server.serve_forever()


if __name__ == "__main__":
    main()
