"""A Docker client that trusts Pebble's root uses the registry by its ACME name."""

testinfra_hosts = ["ansible://docker_clients"]

REF = "registry.dockyard.test/smoke/busybox:acme"


def test_login_push_remove_pull_and_run(host):
    host.check_output("docker load -i /root/busybox.tar")
    host.check_output(f"docker tag dockyard-test/busybox:latest {REF}")
    host.check_output(f"docker push {REF}")
    host.check_output(f"docker rmi {REF} dockyard-test/busybox:latest")
    host.check_output(f"docker pull {REF}")
    assert host.check_output(f"docker run --rm {REF} echo over-acme-tls") == "over-acme-tls"
