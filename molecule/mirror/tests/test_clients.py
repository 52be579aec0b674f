"""Docker clients pull Docker Hub names through the mirror, with no internet."""

import json

testinfra_hosts = ["ansible://docker_clients"]


def test_dockerd_reports_the_mirror(host):
    mirrors = json.loads(host.check_output("docker info --format '{{json .RegistryConfig.Mirrors}}'"))
    assert mirrors == ["https://mirror/"]


def test_docker_hub_name_pulls_through_the_mirror_and_runs(host):
    host.run("docker rmi --force busybox:latest")
    host.check_output("docker pull busybox:latest")
    assert host.check_output("docker run --rm busybox:latest echo via-mirror") == "via-mirror"


def test_daemon_json_holds_the_mirror(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["registry-mirrors"] == ["https://mirror"]


def test_containerd_pulls_docker_hub_names_through_the_mirror(host):
    hosts_toml = host.file("/etc/containerd/certs.d/docker.io/hosts.toml").content_string
    assert 'server = "https://registry-1.docker.io"' in hosts_toml
    assert '[host."https://mirror"]' in hosts_toml
    host.check_output("ctr --namespace dockyard-test images pull --hosts-dir /etc/containerd/certs.d"
                      " docker.io/library/busybox:latest")


def test_another_upstream_pulls_through_its_own_cache(host):
    host.check_output("docker pull mirror:8443/dockyard/tools:1")
    assert host.check_output("docker run --rm mirror:8443/dockyard/tools:1 echo via-ghcr-cache") == "via-ghcr-cache"


def test_containerd_pulls_ghcr_names_through_the_mirror_hosts_route_to_their_cache(host):
    hosts_toml = host.file("/etc/containerd/certs.d/ghcr.io/hosts.toml").content_string
    assert 'server = "https://ghcr.io"' in hosts_toml and '[host."https://mirror/v2/ghcr.io"]' in hosts_toml
    assert "override_path = true" in hosts_toml
    host.check_output("ctr --namespace dockyard-test images pull --hosts-dir /etc/containerd/certs.d"
                      " ghcr.io/dockyard/tools:1")


def test_containerd_cri_plugin_reads_the_hosts_dir_the_role_gave_it(host):
    config = host.file("/etc/containerd/config.toml").content_string
    # Debian's own file, the role's one key added to it.
    assert '[plugins."io.containerd.grpc.v1.cri".cni]' in config
    assert config.count('config_path = "/etc/containerd/certs.d"') == 1


def test_insecure_registries_only_where_asked(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    index = json.loads(host.check_output("docker info --format '{{json .RegistryConfig.IndexConfigs}}'"))
    if host.backend.host == "client1":
        assert config["insecure-registries"] == ["upstream:5000"]
        assert index["upstream:5000"]["Secure"] is False
        host.check_output("docker pull upstream:5000/library/busybox:latest")
    else:
        assert "insecure-registries" not in config and "upstream:5000" not in index
