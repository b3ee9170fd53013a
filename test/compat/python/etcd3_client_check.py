"""python-etcd3 (Debian's python3-etcd3) against one endpoint: KV, txn, leases, watch, lock,
status and members. Prints one line per fact, with nothing that differs between two correct
servers (no lease ids, member ids or timings), so the test can compare Sigil KV with etcd."""
import sys
import threading

import etcd3


def main(port: int) -> None:
    client = etcd3.client(host="127.0.0.1", port=port, timeout=10)
    client.put("/py/a", "one")
    value, meta = client.get("/py/a")
    print("get", value, meta.create_revision, meta.mod_revision, meta.version)

    compare = [client.transactions.value("/py/a") == "one"]
    succeeded, _ = client.transaction(
        compare=compare, success=[client.transactions.put("/py/a", "two")], failure=[]
    )
    print("txn value==one", succeeded)
    succeeded, _ = client.transaction(
        compare=compare, success=[], failure=[client.transactions.get("/py/a")]
    )
    print("txn value==one again", succeeded)
    client.put("/py/b", "bee")
    print("prefix", [(meta.key, value) for value, meta in client.get_prefix("/py/")])

    lease = client.lease(30)
    client.put("/py/leased", "x", lease=lease)
    print("lease keys", lease.keys, 25 <= lease.remaining_ttl <= 30)
    lease.refresh()
    lease.revoke()
    print("after revoke", client.get("/py/leased")[0])

    events, iterator_ready = [], threading.Event()
    iterator, cancel = client.watch_prefix("/py/w/")

    def consume() -> None:
        iterator_ready.set()
        for event in iterator:
            events.append((type(event).__name__, event.key, event.value))
            if len(events) == 2:
                break

    watcher = threading.Thread(target=consume)
    watcher.start()
    iterator_ready.wait(5)
    client.put("/py/w/1", "first")
    client.delete("/py/w/1")
    watcher.join(10)
    cancel()
    print("watch", events)

    with client.lock("py-lock", ttl=10) as lock:
        print("lock held", lock.is_acquired())
    print("lock keys left", len(list(client.get_prefix("/locks/py-lock"))))

    print("deleted", client.delete("/py/a"), client.delete("/py/missing"))
    print("members", len(list(client.members)))
    status = client.status()
    print("status leader is a member", status.leader is not None, status.version.split(".")[0])


if __name__ == "__main__":
    main(int(sys.argv[1]))
