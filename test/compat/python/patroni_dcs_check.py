"""Patroni's etcd3 DCS (Debian's patroni) against one endpoint, through the HTTP/JSON gateway
exactly as a Patroni node uses it: bootstrap, member registration, leader race with a lease,
dynamic configuration, failover key, leader optime, and clean-up. No PostgreSQL is involved.
Prints one line per fact with nothing that differs between two correct servers.

Each Patroni node reads the cluster from a cache its watch stream keeps; a node's cache may
trail another node's write by a moment on any server. So the cluster is read by a newly
started node each time, whose cache is built from a read at the present revision."""
import logging
import sys

from patroni.dcs.etcd3 import Etcd3


def summary(cluster) -> str:
    return " ".join(
        [
            f"initialize={cluster.initialize}",
            f"leader={cluster.leader and cluster.leader.name}",
            f"members={sorted(member.name for member in cluster.members)}",
            f"config={cluster.config and cluster.config.data}",
            f"failover={cluster.failover and (cluster.failover.leader, cluster.failover.candidate)}",
            f"last_lsn={cluster.last_lsn}",
        ]
    )


def main(port: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    config = {
        "scope": "demo",
        "name": "pg1",
        "namespace": "/service/",
        "ttl": 30,
        "loop_wait": 10,
        "retry_timeout": 10,
        "host": f"127.0.0.1:{port}",
    }
    dcs = Etcd3(config)

    def observed() -> str:
        return summary(Etcd3({**config, "name": "observer"}).get_cluster())

    print("empty", observed())
    print("initialize", dcs.initialize(create_new=True, sysid="7000000000000000001"))
    print("initialize again", dcs.initialize(create_new=True, sysid="7000000000000000002"))
    member = {"conn_url": "postgres://127.0.0.1:5432/postgres", "state": "running"}
    print("touch member", dcs.touch_member(member))
    print("acquire leader", dcs.attempt_to_acquire_leader())
    rival = Etcd3({**config, "name": "pg2"})
    print("rival acquires leader", rival.attempt_to_acquire_leader())
    print("set config", dcs.set_config_value('{"ttl": 30, "loop_wait": 10}'))
    print("set history", dcs.set_history_value("[]"))
    print("update leader", dcs.update_leader(12345))
    print("set failover", dcs.set_failover_value('{"leader": "pg1", "member": "pg2"}'))
    print("cluster", observed())
    # Patroni's HA loop reads the cluster before it steps down; delete_leader uses that view.
    dcs.get_cluster()
    print("delete leader", dcs.delete_leader())
    print("rival acquires leader", rival.attempt_to_acquire_leader())
    print("cluster", observed())
    print("delete cluster", dcs.delete_cluster())
    print("gone", observed())


if __name__ == "__main__":
    main(int(sys.argv[1]))
