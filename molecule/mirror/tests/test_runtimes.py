"""client4 is a podman host with neither Docker Engine nor containerd: the rollout gave it one drop-in of
registries.conf.d and the mirror host's CA, and its pulls of every upstream go through the mirror's one address."""

testinfra_hosts = ["ansible://client4"]

DROPIN = "/etc/containers/registries.conf.d/50-dockyard-mirrors.conf"


def mirror(host):
    return host.get_host("ansible://mirror", ansible_inventory=host.backend.ansible_inventory)


def test_the_rollout_installed_no_docker_engine_and_left_the_operators_registries_conf_alone(host):
    assert not host.exists("dockerd") and not host.exists("containerd")
    assert host.run("sha256sum --check /root/registries.conf.sha256").rc == 0
    assert not host.file("/etc/docker").exists and not host.file("/etc/containerd").exists


def test_the_drop_in_names_each_upstreams_mirror(host):
    dropin = host.file(DROPIN)
    assert dropin.mode == 0o644
    text = dropin.content_string
    # The port written out: a bare "mirror/..." would name a repository of Docker Hub.
    assert 'prefix = "docker.io"' in text and 'location = "mirror:443"' in text
    assert 'prefix = "ghcr.io"' in text and 'location = "mirror:443/ghcr.io"' in text
    assert host.file("/etc/containers/certs.d/mirror:443/mirror-ca.crt").exists


def test_podman_pulls_every_upstream_through_the_mirror_hosts_one_address(host):
    """No internet: the upstreams' own names answer only through the mirror. The ghcr cache's pull log
    grows by the pull, and the cache's front end logs it from client4's address (the route passes it on)."""
    address = host.check_output("hostname -I").split()[0]
    before = int(mirror(host).check_output("wc -l < /var/log/nginx/dockyard-ghcr.pulls"))
    for image in ["docker.io/library/busybox:latest", "ghcr.io/dockyard/tools:1"]:
        host.run(f"podman rmi --force {image}")
        host.check_output(f"podman pull --quiet {image}")
    assert int(mirror(host).check_output("wc -l < /var/log/nginx/dockyard-ghcr.pulls")) > before
    routed = mirror(host).check_output("grep --count '^%s .*GET /v2/dockyard/tools/manifests/1 ' "
                                       "/var/log/nginx/access.log", address)
    assert int(routed) >= 1

