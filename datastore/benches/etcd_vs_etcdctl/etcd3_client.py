"""The baseline client of the etcd_vs_etcdctl benchmark: python-etcd3 (Debian's python3-etcd3,
on grpcio's C core and protobuf's C++ messages), one long-lived client over one gRPC channel.

Driven over stdin/stdout, one command a line, so that the Rust benchmark gives it the same work
as our client. Connecting and a warm-up read happen before "ready"; every figure it prints is
timed in this process with time.perf_counter() around the operation alone.

  list PREFIX                  -> "list SECONDS COUNT": one range read, values decoded
  puts PREFIX VALUES_FILE      -> "puts SECONDS COUNT": one put per line of the file, in turn,
                                  each waiting for its answer; keys PREFIX + 6-digit index
  gets PREFIX COUNT            -> "gets SECONDS COUNT": COUNT single-key reads in turn, keys
                                  PREFIX + 6-digit index, each one present
  watch PREFIX FROM COUNT      -> "watching" once the watch is created, then "done COUNT" as
                                  soon as COUNT events arrived (the caller times this one)
  replay PREFIX FROM COUNT     -> "replay SECONDS COUNT": watch created and COUNT events
                                  received, timed here
  quit

Usage: etcd3_client.py HOST PORT
"""

import sys
import threading
import time

import etcd3

UNLIMITED = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]


def say(*words):
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


class Counter:
    """Counts watch events on the watcher thread; says "done" the moment COUNT arrived."""

    def __init__(self, count, announce):
        self.count = count
        self.seen = 0
        self.announce = announce
        self.finished = threading.Event()
        self.failure = None
        self.at = None

    def __call__(self, response):
        if isinstance(response, Exception):
            self.failure = response
            self.finished.set()
            return
        if self.finished.is_set():
            return
        self.seen += len(response.events)
        if self.seen >= self.count:
            self.at = time.perf_counter()
            if self.announce:
                say("done", self.seen)
            self.finished.set()


def watch(client, prefix, start, count, announce):
    counter = Counter(count, announce)
    began = time.perf_counter()
    watch_id = client.add_watch_prefix_callback(
        prefix, counter, start_revision=start, prev_kv=True
    )
    if announce:
        say("watching")
    if not counter.finished.wait(timeout=120):
        raise RuntimeError(f"watch of {prefix}: {counter.seen} of {count} events in 120 s")
    client.cancel_watch(watch_id)
    if counter.failure is not None:
        raise RuntimeError(f"watch of {prefix} failed: {counter.failure}")
    return counter.at - began, counter.seen


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    client = etcd3.client(host=host, port=port, timeout=60, grpc_options=UNLIMITED)
    client.get("/bench/warm-up")
    say("ready")
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        command, args = words[0], words[1:]
        if command == "list":
            began = time.perf_counter()
            kvs = list(client.get_prefix(args[0]))
            say("list", time.perf_counter() - began, len(kvs))
        elif command == "puts":
            prefix = args[0]
            with open(args[1], "rb") as f:
                values = f.read().split(b"\n")[:-1]
            keys = [f"{prefix}{i:06}" for i in range(len(values))]
            began = time.perf_counter()
            for key, value in zip(keys, values):
                client.put(key, value)
            say("puts", time.perf_counter() - began, len(values))
        elif command == "gets":
            prefix, count = args[0], int(args[1])
            keys = [f"{prefix}{i:06}" for i in range(count)]
            began = time.perf_counter()
            found = sum(1 for key in keys if client.get(key)[0] is not None)
            say("gets", time.perf_counter() - began, found)
        elif command == "watch":
            watch(client, args[0], int(args[1]), int(args[2]), announce=True)
        elif command == "replay":
            took, seen = watch(client, args[0], int(args[1]), int(args[2]), announce=False)
            say("replay", took, seen)
        elif command == "quit":
            break
        else:
            raise RuntimeError(f"unknown command {line!r}")
    # No client.close(): closing the channel under the watcher thread makes it fail noisily.
    # That thread is a daemon; the process just ends.
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the benchmark reads the reason from stderr
        sys.stderr.write(f"etcd3_client.py: {type(e).__name__}: {e}\n")
        sys.exit(1)
