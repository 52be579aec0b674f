#!/usr/bin/env python3
"""Make one HTTP(S) request the way a test needs it and print what came back.

Prints JSON: {"status": int, "headers": {lowercased name: [values]}, "body": text} or
{"error": "..."} when no HTTP answer came (refused connection, TLS handshake
refused). Redirects are reported, never followed. With --parallel N, N such requests
are made at once (each connection opened first, then every request sent together) and
a list is printed, each answer with the epoch seconds it was sent and answered.

probe.py URL [--method M] [--user U:P] [--agent UA] [--header "Name: value"]... [--data TEXT]
         [--cafile F | --insecure] [--tls-max 1.0|1.1|1.2|1.3] [--version HTTP/x.y] [--no-host]
         [--timeout SECONDS] [--parallel N]
"""

import argparse
import base64
import http.client
import json
import ssl
import sys
import threading
import time
import urllib.parse

TLS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
       "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--user")
    parser.add_argument("--agent", help="User-Agent header")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--data", help="the request body")
    parser.add_argument("--cafile")
    parser.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    parser.add_argument("--tls-max", choices=TLS)
    parser.add_argument("--version", default="HTTP/1.1", help="the HTTP version the request line names")
    parser.add_argument("--no-host", action="store_true", help="send no Host header")
    parser.add_argument("--timeout", type=float, default=10, help="seconds to wait for the connection and the answer")
    parser.add_argument("--parallel", type=int, help="make this many requests at once")
    args = parser.parse_args()
    if args.parallel is None:
        print(json.dumps(answer(connect(args), args)))
        return 0
    answers = [None] * args.parallel
    together = threading.Barrier(args.parallel)

    def one(index, connection):
        together.wait()
        sent = time.time()
        answers[index] = dict(answer(connection, args), sent=sent, answered=time.time())

    threads = [threading.Thread(target=one, args=(index, connect(args, opened=True)))
               for index in range(args.parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(answers))
    return 0


def connect(args, opened=False):
    url = urllib.parse.urlsplit(args.url)
    if url.scheme == "https":
        context = ssl.create_default_context(cafile=args.cafile)
        if args.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if args.tls_max:
            # Let this client offer old protocols, so that a refusal is the server's.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = TLS[args.tls_max]
        connection = http.client.HTTPSConnection(url.hostname, url.port or 443, context=context, timeout=args.timeout)
    else:
        connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=args.timeout)
    connection._http_vsn_str = args.version
    if opened:
        connection.connect()
    return connection


def answer(connection, args):
    url = urllib.parse.urlsplit(args.url)
    headers = {"User-Agent": args.agent} if args.agent else {}
    headers.update(header.split(": ", 1) for header in args.header)
    if args.user:
        headers["Authorization"] = "Basic " + base64.b64encode(args.user.encode()).decode()
    try:
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        if args.no_host:
            connection.putrequest(args.method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
        else:
            connection.request(args.method, target, body=args.data, headers=headers)
        response = connection.getresponse()
    except (TimeoutError, OSError, ssl.SSLError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    collected = {}
    for name, value in response.getheaders():
        collected.setdefault(name.lower(), []).append(value)
    body = response.read(65536).decode(errors="replace")
    return {"status": response.status, "headers": collected, "body": body}

if __name__ == "__main__":
    sys.exit(main())
