#!/usr/bin/env python3
"""A collector for the tests, of traces and of registry events: collector PORT DIRECTORY.

It takes what an OpenTelemetry SDK posts to /v1/traces (protobuf), answers as a
collector does, and appends one JSON line per request to DIRECTORY/traces.jsonl:
the path, the content type, each resource's attributes and its spans' names.
What a registry's notifications post anywhere else (an envelope of events,
JSON) goes to DIRECTORY/events.jsonl: the path, the content type, the
Authorization header and the events.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


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
        traces = self.path == "/v1/traces"
        try:
            if traces:
                record["resources"] = list(resources(body))
            else:
                record.update(authorization=self.headers.get("Authorization", ""), events=json.loads(body)["events"])
        except (ValueError, IndexError, KeyError, UnicodeDecodeError) as error:
            record["error"] = str(error)
        with open(self.server.directory / ("traces.jsonl" if traces else "events.jsonl"), "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        # An empty ExportTraceServiceResponse, or the 200 a registry's endpoint answers: everything accepted.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf" if traces else "application/json")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler)
    server.directory = Path(sys.argv[2])
    server.serve_forever()


if __name__ == "__main__":
    main()
