"""Two replicas of one registry on S3 and redis (test_redis_group.py), behind nginx on each, as an
operator would check them after `ansible-playbook site.yml` and the failures
of side_effect.yml."""

import json
import re

import pytest
import yaml

testinfra_hosts = ["ansible://registry-a", "ansible://registry-b"]

BUCKET = "/srv/s3/registry/dockyard/docker/registry/v2"
CONFIG = "/etc/dockyard/registry"
NAME = "registry.ha.test"
REPLICAS = {"registry-a": "10.231.0.11", "registry-b": "10.231.0.12"}
PRIVATE = {"registry-a": "10.231.1.11:5000", "registry-b": "10.231.1.12:5000"}


def other(host, name):
    return host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)


def account(host):
    variables = host.ansible.get_variables()
    return variables["test_user"], variables["test_password"]


def config(host):
    return yaml.safe_load(host.file(f"{CONFIG}/config.yml").content_string)


def test_every_replica_signs_uploads_with_the_same_secret(host):
    secrets = {name: other(host, name).file(f"{CONFIG}/http-secret") for name in REPLICAS}
    assert {file.mode for file in secrets.values()} == {0o600}
    assert len({file.content_string for file in secrets.values()}) == 1
    assert config(host)["http"]["secret"] == secrets["registry-a"].content_string


def test_the_one_ca_file_the_replicas_export_verifies_each_of_them(host):
    """Both replicas in the default selfsigned mode, exporting to one file: the first keeps the CA, both certificates
    are its, and the client, trusting that file alone, verifies either front end by the name they share."""
    me = host.ansible.get_variables()["inventory_hostname"]
    assert host.file("/etc/dockyard/ca/ca.crt").content_string == \
        other(host, "registry-a").file("/etc/dockyard/ca/ca.crt").content_string
    assert host.file("/etc/dockyard/ca/ca.key").mode == 0o600
    handshake = (
        "import socket, ssl; context = ssl.create_default_context(cafile='/etc/docker/certs.d/registry.ha.test/ca.crt'); "
        f"tls = context.wrap_socket(socket.create_connection(('{REPLICAS[me]}', 443)), server_hostname='{NAME}'); "
        "print(dict(entry[0] for entry in tls.getpeercert()['issuer'])['commonName'])")
    issuer = other(host, "client-ha").run(f'python3 -c "{handshake}"')
    assert issuer.rc == 0, issuer.stderr
    assert issuer.stdout.strip() == "dockyard registry CA (registry-a)"


def test_registry_keeps_images_in_the_bucket_and_caches_in_redis(host):
    variables = host.ansible.get_variables()
    settings = config(host)
    assert "filesystem" not in settings["storage"]
    s3 = settings["storage"]["s3"]
    assert s3["regionendpoint"] == variables["test_s3_endpoint"]
    assert s3["forcepathstyle"] is True and s3["bucket"] == "registry" and s3["rootdirectory"] == "/dockyard"
    assert settings["storage"]["cache"]["blobdescriptor"] == "redis"
    # On 3.x (side_effect.yml upgraded them) they ask the sentinels which redis is the master.
    password = variables["test_redis_password"]
    assert settings["redis"] == {"addrs": variables["test_sentinels"], "mastername": "dockyard", "db": 0,
                                 "password": password, "sentinelpassword": password,
                                 "dialtimeout": "1s", "readtimeout": "1s", "writetimeout": "1s"}


def test_container_has_the_s3_ca_and_no_image_directory(host):
    info = json.loads(host.check_output("docker inspect registry"))[0]
    mounts = {m["Destination"]: m["Source"] for m in info["Mounts"] if m["Type"] == "bind"}
    assert mounts["/etc/ssl/certs/dockyard-s3-ca.crt"] == f"{CONFIG}/s3-ca.crt"
    assert "/var/lib/registry" not in mounts
    assert not any(e.startswith("AWS_") for e in info["Config"]["Env"])
    assert "OTEL_TRACES_EXPORTER=none" in info["Config"]["Env"]


def test_no_replica_holds_image_data(host):
    assert not host.file("/var/lib/registry").exists
    # The image declares /var/lib/registry a volume: Docker made an empty one.
    info = json.loads(host.check_output("docker inspect registry"))[0]
    (volume,) = [m for m in info["Mounts"] if m["Destination"] == "/var/lib/registry"]
    assert volume["Type"] == "volume"
    assert host.check_output(f"find {volume['Source']} -type f | wc -l") == "0"


def test_pushed_layers_and_manifests_are_objects_in_the_bucket(host):
    s3 = other(host, "s3")
    client = other(host, "client-ha")
    crane = f"SSL_CERT_FILE=/etc/docker/certs.d/{NAME}/ca.crt crane"
    digest = client.check_output(f"{crane} digest {NAME}/ha/stage:before-failures")
    layers = json.loads(client.check_output(f"{crane} manifest {NAME}/ha/stage@{digest}"))["layers"]
    for blob in [digest] + [layer["digest"] for layer in layers]:
        hex_digest = blob.split(":")[1]
        assert s3.file(f"{BUCKET}/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data").is_file, blob
    assert s3.file(f"{BUCKET}/repositories/ha/stage/_manifests/tags/before-failures").is_directory


def test_registries_answer_on_the_private_network_only(host):
    # Every replica's front end reaches every registry...
    for name, address in PRIVATE.items():
        assert json.loads(host.check_output(f"probe http://{address}/v2/"))["status"] == 401, name
    # ...and the client, on the public network, not this host's (a reachable one answers at once).
    me = host.ansible.get_variables()["inventory_hostname"]
    answer = json.loads(other(host, "client-ha").check_output(f"probe http://{PRIVATE[me]}/v2/ --timeout 3"))
    assert re.search(r"timed out|unreachable|No route", answer.get("error", "")), answer


def test_front_end_balances_over_both_registries(host):
    vhost = host.file("/etc/nginx/conf.d/dockyard-registry.conf").content_string
    for address in PRIVATE.values():
        assert f"server {address} max_fails=1 fail_timeout=10s;" in vhost
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in vhost


@pytest.mark.parametrize("replica", sorted(REPLICAS))
def test_each_front_end_serves_the_name_with_the_login(host, replica):
    answer = json.loads(other(host, "client-ha").check_output(
        f"probe https://{REPLICAS[replica]}/v2/ --insecure --user {':'.join(account(host))}"))
    assert answer["status"] == 200


def test_collector_on_one_replica_refuses_and_points_to_the_playbook(host):
    run = host.run(f"dockyard-registry-gc {CONFIG}/gc.json run")
    assert run.rc == 1
    assert "is served by registry-a, registry-b: collect its garbage with playbooks/gc.yml" in run.stderr
    assert not host.file(f"{CONFIG}/config.yml.before-gc").exists
