#!/usr/bin/env python3
"""Sequential acknowledged JetStream publishes over the raw NATS protocol.

usage: sync-publish.py HOST:PORT COUNT [SUBJECT] [WINDOW] [SIZE]

Creates a file stream capturing SUBJECT (default durable.test) named
after it, then publishes COUNT messages of SIZE bytes
(default 16), with at most WINDOW (default 1: one at a time)
unacknowledged, and checks every PubAck. Prints the count, the wall time
and, for WINDOW 1, the p50/p99 ack latency. Used by fsync-per-ack.sh to
count fdatasync calls per acknowledgement.
"""
import json
import socket
import sys
import time


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    count = int(sys.argv[2])
    subject = sys.argv[3] if len(sys.argv) > 3 else "durable.test"
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 16
    sock = socket.create_connection((host, int(port)), timeout=10)
    reader = sock.makefile("rb")
    reader.readline()  # INFO
    sock.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB _INBOX.ack 1\r\nPING\r\n')
    while reader.readline().strip() != b"PONG":
        pass

    def send(subject, payload):
        sock.sendall(b"PUB %s _INBOX.ack %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))

    def receive():
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

    def request(subject, payload):
        send(subject, payload)
        return receive()

    name = subject.replace(".", "_").upper()
    config = json.dumps({"name": name, "subjects": [subject], "storage": "file"}).encode()
    created = json.loads(request("$JS.API.STREAM.CREATE." + name, config))
    if "error" in created:
        sys.exit("stream create refused: %s" % created)
    payload = b"x" * size
    latencies = []
    started = time.monotonic()
    sent = acked = 0
    while acked < count:
        burst = b""
        while sent < count and sent - acked < window:
            burst += b"PUB %s _INBOX.ack %d\r\n%s\r\n" % (subject.encode(), len(payload), payload)
            sent += 1
        before = time.monotonic()
        sock.sendall(burst)
        ack = json.loads(receive())
        latencies.append(time.monotonic() - before)
        if "error" in ack:
            sys.exit("publish %d refused: %s" % (acked, ack))
        acked += 1
    elapsed = time.monotonic() - started
    line = "acked=%d seconds=%.3f rate=%.0f/s" % (count, elapsed, count / elapsed)
    if window == 1:
        latencies.sort()
        line += " p50=%.0fus p99=%.0fus" % (latencies[len(latencies) // 2] * 1e6, latencies[int(len(latencies) * 0.99)] * 1e6)
    print(line)


if __name__ == "__main__":
    main()
