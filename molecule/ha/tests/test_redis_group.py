"""The replicas' redis: a group of three (redis, registry-a and registry-b),
each host with a redis and a sentinel, after side_effect.yml froze the
master's host (redis_fault.yml) while the client pulled and pushed through
the front end."""

import json

import pytest

testinfra_hosts = ["ansible://registry-a"]

MEMBERS = {"redis": "10.231.1.32", "registry-a": "10.231.1.11", "registry-b": "10.231.1.12"}
NAME = "registry.ha.test"


def other(host, name):
    return host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)


def ask(host, address, port, command):
    """The lines redis-cli prints for AUTH, then the command."""
    password = host.ansible.get_variables()["test_redis_password"]
    lines = host.check_output(f"printf 'AUTH %s\\n{command}\\n' '{password}' | redis-cli -h {address} -p {port}")
    lines = lines.splitlines()
    assert lines[0] == "OK", lines
    return lines[1:]


def master(host):
    answers = {tuple(ask(host, address, 26379, "SENTINEL get-master-addr-by-name dockyard"))
               for address in MEMBERS.values()}
    assert len(answers) == 1, f"the sentinels disagree: {answers}"
    (address, port), = answers
    assert port == "6379"
    return address


def test_sentinels_agree_on_a_master_that_the_others_replicate(host):
    # Wherever the failures left it: the freeze of the redis host moved it
    # (test_clients_pulled_and_pushed_while_the_master_was_lost), and the
    # freeze of registry-a, a member too, may have moved it again.
    elected = master(host)
    role = ask(host, elected, 6379, "ROLE")
    assert role[0] == "master"
    for address in set(MEMBERS.values()) - {elected}:
        assert address in role, f"{address} does not replicate the master: {role}"
        replica = ask(host, address, 6379, "ROLE")
        assert replica[:4] == ["slave", elected, "6379", "connected"], replica


def test_the_master_holds_blob_descriptors_and_evicts_least_recently_used(host):
    answer = ask(host, master(host), 6379, "CONFIG GET maxmemory-policy\nKEYS blobs::*")
    assert answer[:2] == ["maxmemory-policy", "allkeys-lru"]
    assert any(line.startswith("blobs::sha256:") for line in answer[2:])


@pytest.mark.parametrize("port", [6379, 26379])
def test_redis_and_sentinel_refuse_clients_without_the_password(host, port):
    for address in MEMBERS.values():
        assert "NOAUTH Authentication required" in host.check_output(f"redis-cli -h {address} -p {port} INFO"), address


def test_redis_and_sentinel_listen_on_the_private_address_only(host):
    listening = host.check_output("ss -Hltn").split()
    for port in (6379, 26379):
        assert f"{MEMBERS['registry-a']}:{port}" in listening
        assert not [a for a in listening if a.endswith(f":{port}") and not a.startswith(MEMBERS["registry-a"])]


@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_files_that_hold_the_password_are_not_world_readable(host, member):
    member = other(host, member)
    settings = member.file("/etc/dockyard/redis/redis.conf")
    assert (settings.user, settings.group, settings.mode) == ("root", "redis", 0o640)
    assert member.file("/etc/dockyard/redis").mode == 0o750
    sentinel = member.file("/etc/redis/sentinel.conf")
    assert (sentinel.user, sentinel.group, sentinel.mode) == ("redis", "redis", 0o640)


def test_a_failover_changes_nothing_the_role_wrote(host):
    # The sentinels told the returned redis host to replicate and to rewrite
    # its settings; the rewrite failed, and the role's file stays as written
    # (side_effect.yml's converge after the failures changed nothing).
    redis = other(host, "redis")
    assert "replicaof" not in redis.file("/etc/dockyard/redis/redis.conf").content_string
    assert "CONFIG REWRITE failed" in redis.file("/var/log/redis/redis-server.log").content_string


def test_clients_pulled_and_pushed_while_the_master_was_lost(host):
    client = other(host, "client-ha")
    fault = json.loads(client.file("/root/redis-fault/fault.json").content_string)
    assert fault["master_before"] == MEMBERS["redis"]
    assert fault["master_after"] in (MEMBERS["registry-a"], MEMBERS["registry-b"])
    # Elected within the 5 s the master may go unanswered, and a few more;
    # the host's redis replicates within seconds of its return.
    assert fault["elected"] - fault["paused"] < 15, fault
    assert fault["replica"] - fault["thawed"] < 30, fault
    for loop in ("pulls", "pushes"):
        report = json.loads(client.file(f"/root/redis-fault/{loop}.json").content_string)
        assert report["began"] < fault["paused"] and report["ended"] > fault["replica"], (loop, report)
        assert report["failed"] == 0, (loop, report)


def test_every_image_pushed_during_the_loss_reads_back_whole(host):
    client = other(host, "client-ha")
    pushed = client.file("/root/redis-fault/pushed").content_string.split()
    assert len(pushed) >= 3
    for reference in pushed:
        check = client.run(f"SSL_CERT_FILE=/etc/docker/certs.d/{NAME}/ca.crt crane validate --remote {reference}")
        assert check.rc == 0 and "PASS" in check.stdout, (reference, check.stdout, check.stderr)
