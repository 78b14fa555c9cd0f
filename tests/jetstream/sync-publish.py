#!/usr/bin/env python3
"""Sequential acknowledged JetStream publishes over the raw NATS protocol.

usage: sync-publish.py HOST:PORT COUNT [SUBJECT]

Creates stream DURABLE (file storage, subject SUBJECT, default
durable.test) if needed, then publishes COUNT messages one at a time,
each waiting for its PubAck. Prints the count and the wall time. Used by
fsync-per-ack.sh to count fdatasync calls per acknowledgement.
"""
import json
import socket
import sys
import time


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    count = int(sys.argv[2])
    subject = sys.argv[3] if len(sys.argv) > 3 else "durable.test"
    sock = socket.create_connection((host, int(port)), timeout=10)
    reader = sock.makefile("rb")
    reader.readline()  # INFO
    sock.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB _INBOX.ack 1\r\nPING\r\n')
    while reader.readline().strip() != b"PONG":
        pass

    def request(subject, payload):
        sock.sendall(b"PUB %s _INBOX.ack %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))
        while True:
            line = reader.readline()
            if line.startswith(b"MSG"):
                size = int(line.split()[-1])
                body = reader.read(size + 2)[:-2]
                return body
            if line.startswith(b"HMSG"):
                parts = line.split()
                total = int(parts[-1])
                return reader.read(total + 2)[:-2]
            if line.startswith(b"PING"):
                sock.sendall(b"PONG\r\n")

    config = json.dumps({"name": "DURABLE", "subjects": [subject], "storage": "file"}).encode()
    request("$JS.API.STREAM.CREATE.DURABLE", config)
    started = time.monotonic()
    for n in range(count):
        ack = json.loads(request(subject, b"message %d" % n))
        if "error" in ack:
            sys.exit("publish %d refused: %s" % (n, ack))
    elapsed = time.monotonic() - started
    print("acked=%d seconds=%.3f rate=%.0f/s" % (count, elapsed, count / elapsed))


if __name__ == "__main__":
    main()
