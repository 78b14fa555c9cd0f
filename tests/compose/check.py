"""Checks for the docker-compose test (compose-test.sh), each bounded in time.

    check.py healthz URL...                 every /healthz answers 200
    check.py draining URL                   /healthz answers 503 (lame duck)
    check.py routes N URL...                every /routez shows num_routes N
    check.py pubsub PUB_URL SUB_URL         messages published on one node
                                            arrive through another (nats-py)
    check.py prometheus URL JOB N           N targets of JOB up, and a
                                            starling_ message counter > 0

URLs are monitoring (http://127.0.0.1:PORT) or client (nats://127.0.0.1:PORT)
addresses on this machine. Exit status 0 when the check passed, 1 when it
timed out (the last observation is printed).
"""

import argparse
import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

import nats

# Longest single HTTP request.
HTTP_TIMEOUT = 3.0
# Pause between polls.
POLL_INTERVAL = 0.5


def http_json(url):
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
        return response.status, json.loads(response.read().decode())


def poll(what, timeout, probe):
    """Call probe() until it returns (True, note) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    note = ""
    while True:
        try:
            ok, note = probe()
        except (urllib.error.URLError, OSError, ValueError) as error:
            ok, note = False, f"{type(error).__name__}: {error}"
        if ok:
            print(f"ok: {what} ({note})")
            return True
        if time.monotonic() >= deadline:
            print(f"FAILED: {what} within {timeout:.0f}s; last: {note}", file=sys.stderr)
            return False
        time.sleep(POLL_INTERVAL)


def check_healthz(urls, timeout):
    def probe():
        statuses = {}
        for url in urls:
            try:
                statuses[url], _ = http_json(f"{url}/healthz")
            except urllib.error.HTTPError as error:
                statuses[url] = error.code
            except (urllib.error.URLError, OSError, ValueError) as error:
                statuses[url] = type(error).__name__
        return all(s == 200 for s in statuses.values()), statuses

    return poll("every node is healthy", timeout, probe)


def check_draining(url, timeout):
    def probe():
        try:
            status, body = http_json(f"{url}/healthz")
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode(errors="replace")
        return status == 503, f"{status} {body}"

    return poll("the node reports it no longer accepts clients", timeout, probe)


def check_routes(expected, urls, timeout):
    def probe():
        counts = {}
        for url in urls:
            try:
                _, routez = http_json(f"{url}/routez")
                counts[url] = routez.get("num_routes")
            except (urllib.error.URLError, OSError, ValueError) as error:
                counts[url] = type(error).__name__
        return all(c == expected for c in counts.values()), counts

    return poll(f"every node has {expected} routes", timeout, probe)


async def pubsub(pub_url, sub_url, count, timeout):
    """Subscribe through sub_url, publish through pub_url: wait until the
    subscription's interest reached the publisher's node (probe messages),
    then send `count` numbered messages and expect every one, in order."""
    subject = f"compose.test.{uuid.uuid4().hex}"
    deadline = time.monotonic() + timeout
    options = dict(connect_timeout=HTTP_TIMEOUT, allow_reconnect=False, max_reconnect_attempts=0)
    subscriber = await nats.connect(sub_url, **options)
    publisher = await nats.connect(pub_url, **options)
    try:
        subscription = await subscriber.subscribe(subject)
        await subscriber.flush(timeout=HTTP_TIMEOUT)
        # Interest travels from the subscriber's node to the publisher's.
        while True:
            await publisher.publish(subject, b"probe")
            await publisher.flush(timeout=HTTP_TIMEOUT)
            try:
                await subscription.next_msg(timeout=0.2)
                break
            except nats.errors.TimeoutError:
                if time.monotonic() >= deadline:
                    print(f"FAILED: no probe from {pub_url} reached {sub_url}", file=sys.stderr)
                    return False
        for number in range(count):
            await publisher.publish(subject, f"message {number}".encode())
        await publisher.flush(timeout=HTTP_TIMEOUT)
        expected = 0
        while expected < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(f"FAILED: {expected}/{count} messages arrived", file=sys.stderr)
                return False
            try:
                message = await subscription.next_msg(timeout=min(remaining, 5.0))
            except nats.errors.TimeoutError:
                continue
            if message.data == b"probe":
                continue
            if message.data != f"message {expected}".encode():
                print(f"FAILED: got {message.data!r}, expected message {expected}", file=sys.stderr)
                return False
            expected += 1
        print(f"ok: {count} messages from {pub_url} arrived through {sub_url}")
        return True
    finally:
        await publisher.close()
        await subscriber.close()


def check_prometheus(url, job, targets, timeout):
    def probe():
        _, answer = http_json(f"{url}/api/v1/targets?state=active")
        active = [t for t in answer["data"]["activeTargets"] if t["labels"].get("job") == job]
        health = {t["labels"]["instance"]: t["health"] for t in active}
        if len(active) != targets or any(h != "up" for h in health.values()):
            return False, f"targets {health}"
        query = urllib.request.quote("sum(starling_in_msgs_total)")
        _, result = http_json(f"{url}/api/v1/query?query={query}")
        samples = result["data"]["result"]
        value = float(samples[0]["value"][1]) if samples else 0.0
        return value > 0, f"targets {health}, sum(starling_in_msgs_total) = {value:g}"

    return poll(f"Prometheus scrapes {targets} healthy {job} targets", timeout, probe)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    commands = parser.add_subparsers(dest="command", required=True)
    healthz = commands.add_parser("healthz")
    healthz.add_argument("urls", nargs="+")
    draining = commands.add_parser("draining")
    draining.add_argument("url")
    routes = commands.add_parser("routes")
    routes.add_argument("expected", type=int)
    routes.add_argument("urls", nargs="+")
    messages = commands.add_parser("pubsub")
    messages.add_argument("pub_url")
    messages.add_argument("sub_url")
    messages.add_argument("--count", type=int, default=100)
    prometheus = commands.add_parser("prometheus")
    prometheus.add_argument("url")
    prometheus.add_argument("job")
    prometheus.add_argument("targets", type=int)
    args = parser.parse_args()

    if args.command == "healthz":
        ok = check_healthz(args.urls, args.timeout)
    elif args.command == "draining":
        ok = check_draining(args.url, args.timeout)
    elif args.command == "routes":
        ok = check_routes(args.expected, args.urls, args.timeout)
    elif args.command == "pubsub":
        try:
            ok = asyncio.run(
                asyncio.wait_for(pubsub(args.pub_url, args.sub_url, args.count, args.timeout), args.timeout + 10)
            )
        except (asyncio.TimeoutError, OSError, nats.errors.Error) as error:
            print(f"FAILED: pubsub {args.pub_url} -> {args.sub_url}: {type(error).__name__}: {error}", file=sys.stderr)
            ok = False
    else:
        ok = check_prometheus(args.url, args.job, args.targets, args.timeout)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
