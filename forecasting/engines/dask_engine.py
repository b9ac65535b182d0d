"""The Dask engine: a ``dask.distributed`` client on an existing scheduler, or on a ``LocalCluster``.

How data moves: each partition is scattered once, straight from this process to one worker, and the
task that needs it runs there; ``shared`` is broadcast once to every worker. A partition goes to the
worker with the most free threads at that moment, and no worker holds more partitions than it has
threads: like a process pool, a worker that finishes early gets the next partition, so no worker sits
idle while another has a queue (letting the scheduler place scattered data left one worker ~10% behind
the other on 2 cores). Each partition is released as soon as its result is back, so worker memory stays
flat however many series there are.

Lost workers: a scattered partition lives only on the worker it was sent to. If that worker dies,
the task fails with a lost-data / killed-worker error; the driver still holds the partition, so it
scatters it again and resubmits it (``max_retries`` times per partition). An exception raised by
``fn`` itself is a bug in the caller's code (failing series are recorded inside ``fn``): it is raised
at once, not retried.
"""
from __future__ import annotations

import logging
import uuid
from collections import deque
from typing import Any, Callable, Sequence

from forecasting.engines.partition import default_workers
from forecasting.engines.tracker import Tracker, cancelled_with
from forecasting.engines.worker import dask_sink, limit_threads, run_partition
from forecasting.errors import ConfigError

POLL_SECONDS = 0.25
CONNECT_TIMEOUT = "15s"
WORKER_WAIT_SECONDS = 30
# Our LocalCluster has no dashboard, so it needs neither the workers' statistical profiler (a stack
# sample every 10 ms) nor fine-grained monitoring: with Dask's defaults an idle 2-worker cluster uses
# ~8% of a core (2% per worker, 4% for scheduler + nannies); with these ~2%.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def run(fn: Callable, partitions: Sequence[Any], *, tracker: Tracker, address: str | None = None,
        n_workers: int | None = None, shared: Any = None, has_shared: bool = False,
        max_retries: int = 2, **_: Any) -> list[Any]:
    client, cluster = connect(address, n_workers)
    topic = f"salescast-progress-{uuid.uuid4().hex[:12]}"
    try:
        check_workers(client, address)
        if cluster is not None:
            client.run(limit_threads)
        client.subscribe_topic(topic, lambda event: _on_event(tracker, event))
        shared_future = client.scatter([shared], broadcast=True, hash=False)[0] if has_shared else None
        return _run(client, fn, list(partitions), tracker, shared_future, has_shared, dask_sink(topic),
                    max_retries=max_retries)
    except Exception as exc:
        from distributed.comm.core import CommClosedError

        from forecasting.errors import EngineError

        if not isinstance(exc, CommClosedError):  # errors of fn itself pass through unchanged
            raise
        where = f"the Dask scheduler at {address}" if address else "the local Dask cluster"
        raise EngineError(f"lost the connection to {where} during the run ({type(exc).__name__}: {exc})") from exc
    finally:
        try:
            client.unsubscribe_topic(topic)
        except Exception:
            pass
        close(client, cluster)


def connect(address: str | None, n_workers: int | None):
    """``Client(address)``, or a new ``LocalCluster`` (single-threaded worker processes on loopback)."""
    from distributed import Client, LocalCluster

    if address:
        probe(address)         # time-boxed: whatever answers there, the handshake below cannot hang on it
        try:
            return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False,
                          security=security(address)), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {_first_line(exc)}") from None
        except MemoryError:
            raise ConfigError(f"the service at {address} does not answer as a Dask scheduler does") from None
        except Exception as exc:  # noqa: BLE001 - whatever answers there, the analyst gets one line
            raise ConfigError(f"cannot use the Dask scheduler at {address}: {type(exc).__name__}: "
                              f"{_first_line(exc)}") from None
    import dask

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(n_workers=default_workers("dask", n_workers), threads_per_worker=1,
                               processes=True, host="127.0.0.1", dashboard_address=None,
                               silence_logs=logging.ERROR)
    try:
        return Client(cluster, set_as_default=False), cluster
    except BaseException:
        cluster.close()
        raise


PROBE_SECONDS = 5.0


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def probe(address: str, timeout: float = PROBE_SECONDS) -> None:
    """Check, within ``timeout`` seconds, that a Dask scheduler answers at a ``tcp://`` address.

    A scheduler speaks first: right after the connection it sends its handshake, a message framed as
    (total length, number of frames, frame lengths) in little-endian 64-bit numbers. Anything else (a web
    server that waits for a request, an SSH banner, silence) gets one line here instead of a hang or an
    attempt to allocate a "message" the size of the bytes the other service sent."""
    import socket
    import struct

    if not address.startswith("tcp://"):
        return                                     # tls:// and others: the handshake is encrypted
    hostport = address[len("tcp://"):].rstrip("/")
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    try:
        port_n = int(port)
    except ValueError:
        raise ConfigError(f"'{address}' is not a scheduler address like tcp://HOST:8786") from None
    try:
        sock = socket.create_connection((host, port_n), timeout=timeout)
    except socket.timeout:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}") from None
    head = b""
    try:
        sock.settimeout(timeout)
        while len(head) < 24:
            chunk = sock.recv(24 - len(head))
            if not chunk:
                break
            head += chunk
    except (socket.timeout, OSError):
        pass
    finally:
        sock.close()
    if len(head) < 24:
        what = "sent nothing" if not head else f"sent {head[:16]!r}"
        raise ConfigError(f"the service at {address} is not a Dask scheduler (it {what} within {timeout:g}s; "
                          "a scheduler greets first); check the host and port (Dask's default is 8786)")
    total, n_frames, first = struct.unpack("<QQQ", head)
    if not (1 <= n_frames <= 64 and 0 < first <= total <= 64 << 20):
        shown = head[:16].decode("ascii", "replace")
        printable = "".join(ch if ch.isprintable() else "." for ch in shown)
        raise ConfigError(f"the service at {address} is not a Dask scheduler (it answered '{printable}…'); "
                          "check the host and port (Dask's default is 8786)")


def security(address: str):
    """TLS credentials for a ``tls://`` scheduler: the administrator's files named by
    ``SALESCAST_DASK_TLS_CA_FILE``, ``SALESCAST_DASK_TLS_CERT`` and ``SALESCAST_DASK_TLS_KEY``; None
    (Dask's own configuration) for other addresses or when they are not set."""
    import os

    if not address.startswith("tls://"):
        return None
    ca, cert, key = (os.environ.get(f"SALESCAST_DASK_TLS_{k}") for k in ("CA_FILE", "CERT", "KEY"))
    if not (ca or cert):
        return None
    from distributed.security import Security

    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key or None, require_encryption=True)


def close(client, cluster) -> None:
    for thing in (client, cluster):
        if thing is None:
            continue
        try:
            thing.close(timeout=20)
        except TypeError:
            thing.close()
        except Exception:
            pass


def check_workers(client, address: str | None) -> int:
    """Wait for at least one worker and check each can import this SalesCast. Returns worker threads."""
    import forecasting

    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except (TimeoutError, OSError):
        raise ConfigError(f"the Dask scheduler at {address} has no workers (waited {WORKER_WAIT_SECONDS}s); "
                          "start some with: dask worker " + str(address)) from None

    def probe() -> str:  # defined here so it travels by value: it must run even where SalesCast is missing
        try:
            import forecasting as f

            return f.__version__
        except Exception as exc:  # pragma: no cover - runs on the worker
            return f"cannot import forecasting ({exc})"

    versions = client.run(probe)
    bad = {w: v for w, v in versions.items() if v != forecasting.__version__}
    if bad:
        w, v = next(iter(bad.items()))
        raise ConfigError(
            f"{len(bad)} Dask worker(s) cannot run SalesCast {forecasting.__version__}: {w} reports {v}. "
            "Install the same SalesCast version on the workers, or start them from the project folder")
    return sum(w.get("nthreads", 1) for w in _workers(client).values())


def _workers(client) -> dict:
    """Every live worker: address -> info (``scheduler_info()`` alone lists the first five)."""
    return client.scheduler_info(n_workers=-1).get("workers", {})


def _pick_worker(client, load: dict) -> str | None:
    """The live worker with the most free threads (threads minus partitions it holds), or None if all
    are busy (or there are none)."""
    best, best_free = None, 0
    for addr, info in _workers(client).items():
        free = int(info.get("nthreads", 1)) - load.get(addr, 0)
        if free > best_free:
            best, best_free = addr, free
    return best


def _on_event(tracker: Tracker, event) -> None:
    # runs on the client's event-loop thread: record only; the driver's main thread emits
    _, msg = event
    tracker.tick(msg["index"], msg["n"], msg.get("message", ""))


def _infrastructure(exc: BaseException) -> bool:
    """Did the partition fail because of the cluster (worker died, data lost) rather than ``fn``?"""
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return isinstance(exc, (KilledWorker, FutureCancelledError, CommClosedError)) or \
        type(exc).__name__ in {"CancelledError", "KilledWorker", "FutureCancelledError"}


def _run(client, fn, partitions, tracker: Tracker, shared_future, has_shared, sink, *,
         max_retries: int) -> list[Any]:
    import queue
    import time

    from forecasting.errors import EngineError

    results: list[Any] = [None] * len(partitions)
    attempts = [0] * len(partitions)
    todo = deque(range(len(partitions)))
    running: dict[Any, tuple[int, Any, str]] = {}
    load: dict[str, int] = {}                          # partitions held per worker address
    token = uuid.uuid4().hex[:8]
    finished: queue.SimpleQueue = queue.SimpleQueue()  # done callbacks (Dask runs them on its own thread)
    no_worker_since: float | None = None
    try:
        while todo or running:
            while todo:
                addr = _pick_worker(client, load)
                if addr is None:
                    break
                i = todo[0]
                try:
                    data = _scatter(client, partitions[i], addr)
                except (OSError, TimeoutError) as exc:    # that worker just went away: choose again
                    logging.getLogger(__name__).info("scatter to %s failed (%s); choosing another worker", addr, exc)
                    load[addr] = 10 ** 9 if addr in _workers(client) else 0
                    continue
                todo.popleft()
                fut = client.submit(run_partition, fn, i, data, shared_future, sink, has_shared,
                                    key=f"salescast-{token}-{i}-{attempts[i]}", pure=False)
                running[fut] = (i, data, addr)
                load[addr] = load.get(addr, 0) + 1
                fut.add_done_callback(finished.put)
            if not running and todo:                  # every worker gone: wait a while for new ones
                no_worker_since = no_worker_since or time.monotonic()
                if time.monotonic() - no_worker_since > WORKER_WAIT_SECONDS:
                    raise EngineError(f"no Dask worker left to run partition {todo[0] + 1} of {len(partitions)} "
                                      f"(waited {WORKER_WAIT_SECONDS}s for workers to come back)")
                load.clear()
            else:
                no_worker_since = None
            ready = []
            try:
                ready.append(finished.get(timeout=POLL_SECONDS))
                while True:
                    ready.append(finished.get_nowait())
            except queue.Empty:
                pass
            for fut in ready:
                if fut not in running:
                    continue
                i, data, addr = running.pop(fut)
                load[addr] = max(0, load.get(addr, 0) - 1)
                exc = None
                if fut.status == "finished":
                    try:
                        results[i] = fut.result()
                    except Exception as lost:  # noqa: BLE001 - the worker holding the result died before gather
                        if not _infrastructure(lost):
                            raise
                        exc = lost
                    else:
                        tracker.done(i, results[i])
                if fut.status != "finished" or exc is not None:
                    exc = exc if exc is not None else _exception(fut)
                    # a task whose scattered input died with its worker comes back "cancelled", no exception
                    if fut.status == "error" and exc is not None and not _infrastructure(exc):
                        fut.result()  # re-raises fn's own error with the worker's traceback
                        raise exc
                    attempts[i] += 1
                    if attempts[i] > max_retries:
                        raise EngineError(
                            f"partition {i + 1} of {len(partitions)} failed {attempts[i]} times because its Dask "
                            f"worker was lost ({fut.status}: {exc!r}); the workers may be out of memory")
                    tracker.lost(i)
                    todo.appendleft(i)
                fut.release()
                data.release()
            tracker.emit()
            if tracker.cancelled:
                raise cancelled_with(results)
    finally:
        if running:
            client.cancel([f for f in running] + [d for _, d, _ in running.values()], force=True)
    return results


def _scatter(client, part, addr: str, timeout: float = 20):
    """Send one partition straight to the worker at ``addr``. Raises OSError or TimeoutError when that
    worker is gone (the caller picks another)."""
    from distributed.comm.core import CommClosedError

    try:
        # wrapped in a list: scatter would otherwise split a dict or list partition into pieces
        return client.scatter([part], workers=[addr], hash=False, timeout=timeout)[0]
    except CommClosedError as exc:
        raise OSError(str(exc)) from exc
    except KeyError as exc:      # the scheduler dropped that worker since we listed it
        raise OSError(f"worker {addr} is gone") from exc


def _exception(fut) -> BaseException:
    try:
        return fut.exception(timeout=10)
    except BaseException as exc:  # a cancelled future raises instead of returning its exception
        return exc


def describe_cluster(address: str) -> str:
    """Connect to ``address`` and say what is there ("3 workers, 12 threads, 47.2 GB"), for the app's
    connection check. Raises :class:`ConfigError` with a readable message when it cannot be used."""
    client, _ = connect(address, None)
    try:
        threads = check_workers(client, address)
        workers = _workers(client).values()
        memory = sum(w.get("memory_limit") or 0 for w in workers) / 1e9
        return f"{len(workers)} worker(s), {threads} thread(s)" + (f", {memory:.1f} GB" if memory else "")
    finally:
        close(client, None)
