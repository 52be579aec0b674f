"""A registry host as an operator would check it after `ansible-playbook site.yml`."""

import json
import re
import shlex

import yaml

testinfra_hosts = ["ansible://registries"]

CONFIG_DIR = "/etc/dockyard/registry"
CONFIG_PATH = {"2": "/etc/docker/registry/config.yml", "3": "/etc/distribution/config.yml"}
ACCESS_LINE = re.compile(r'^\S+ - \S+ \[[^]]+\] "[A-Z]+ ')
METRIC_LINE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')
# The blob-descriptor cache's request counter, per major version.
CACHE_REQUESTS = {"2": ("registry_storage_cache_total", {"type": "Request"}),
                  "3": ("registry_storage_cache_requests_total", {})}


def inspect(host, name="registry"):
    return json.loads(host.check_output(f"docker inspect {name}"))[0]


def test_docker_and_nginx_run_now_and_at_boot(host):
    for name in ("docker", "nginx"):
        service = host.service(name)
        assert service.is_running and service.is_enabled, name


def test_registry_container_runs_the_configured_version(host):
    hostvars = host.ansible.get_variables()
    info = inspect(host)
    assert info["State"]["Running"]
    assert info["Config"]["Image"] == hostvars["registry_image"]
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert hostvars["expected_version"] in host.check_output("docker exec registry /bin/registry --version")


def test_container_reads_the_rendered_config(host):
    hostvars = host.ansible.get_variables()
    major = hostvars["registry_image"].rsplit(":", 1)[1]
    mounts = {m["Destination"]: m["Source"] for m in inspect(host)["Mounts"]}
    assert mounts[CONFIG_PATH[major]] == f"{CONFIG_DIR}/config.yml"
    assert mounts["/var/lib/registry"] == "/var/lib/registry"
    config_file = host.file(f"{CONFIG_DIR}/config.yml")
    assert config_file.mode == 0o600
    config = yaml.safe_load(config_file.content_string)
    assert config["http"]["addr"] == ":5000"
    assert config["http"]["headers"]["X-Content-Type-Options"] == ["nosniff"]
    # The htpasswd file's directory, which shows the registry each new
    # version of the file; nothing of it without htpasswd auth.
    assert not host.file(f"{CONFIG_DIR}/htpasswd").exists
    if hostvars.get("registry_auth") == "none":
        assert "auth" not in config and "/auth" not in mounts
        assert not host.file(f"{CONFIG_DIR}/auth").exists
    else:
        assert config["auth"]["htpasswd"]["path"] == "/auth/htpasswd"
        assert mounts["/auth"] == f"{CONFIG_DIR}/auth"
    secret = host.file(f"{CONFIG_DIR}/http-secret")
    assert secret.mode == 0o600
    assert len(config["http"]["secret"]) == 64
    assert config["http"]["secret"] == secret.content_string


def test_htpasswd_holds_bcrypt_hashes_readable_only_by_its_reader(host):
    if host.ansible.get_variables().get("registry_frontend_auth") == "anonymous_pull":
        htpasswd = host.file("/etc/nginx/dockyard-registry.htpasswd")
        assert (htpasswd.mode, htpasswd.user, htpasswd.group) == (0o640, "root", "www-data")
    else:
        htpasswd = host.file(f"{CONFIG_DIR}/auth/htpasswd")
        assert (htpasswd.mode, htpasswd.user) == (0o600, "root")
    entries = dict(line.split(":", 1) for line in htpasswd.content_string.splitlines())
    variables = host.ansible.get_variables()
    assert set(entries) == {variables["test_user"], *variables["test_teams"]}
    # registry_password_cost, which a registry instance gives its front end too
    assert all(hashed.startswith(f"$2b${variables['registry_password_cost']:02d}$") for hashed in entries.values())
    for password in [variables["test_password"], *variables["test_teams"].values()]:
        assert password not in htpasswd.content_string


def test_tls_key_is_private_and_certificate_names_the_host(host):
    fullchain = "/etc/dockyard/tls/registry/fullchain.pem"
    assert host.file("/etc/dockyard/tls/registry/privkey.pem").mode == 0o600
    text = host.check_output(f"openssl x509 -noout -ext subjectAltName -in {fullchain}")
    assert f"DNS:{host.backend.get_hostname()}" in text
    if host.ansible.get_variables().get("registry_certs_mode") == "provided":
        # Leaf first, then its issuer: what clients need to build the path.
        pem = host.file(fullchain).content_string
        assert pem.count("BEGIN CERTIFICATE") == 2
        issuer = host.check_output(f"openssl x509 -noout -issuer -in {fullchain}")
        second = pem[pem.index("-----BEGIN", 1):]
        assert host.check_output(f"echo '{second}' | openssl x509 -noout -subject").split("=", 1)[1] \
            == issuer.split("=", 1)[1]
    else:
        assert host.file("/etc/dockyard/ca/ca.key").mode == 0o600
        host.check_output(f"openssl verify -CAfile /etc/dockyard/ca/ca.crt {fullchain}")


def test_registry_is_published_on_loopback_only(host):
    assert host.socket("tcp://127.0.0.1:5000").is_listening
    assert not host.socket("tcp://0.0.0.0:5000").is_listening


def before_side_effect(host):
    return json.loads(host.file("/root/before-side-effect.json").content_string)


def test_registry_container_was_recreated(host):
    before = before_side_effect(host)["container"]
    assert before and inspect(host)["Id"] != before


def test_certificate_in_its_renewal_window_was_renewed_and_is_served(host):
    fullchain = "/etc/dockyard/tls/registry/fullchain.pem"
    on_disk = host.check_output(f"openssl x509 -noout -serial -in {fullchain}")
    served = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {host.backend.get_hostname()} </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial")
    assert served == on_disk
    renewed = on_disk != before_side_effect(host)["serial"]
    # Only the host's own CA renews; a provided certificate is the operator's.
    assert renewed == (host.ansible.get_variables().get("registry_certs_mode") != "provided")


def test_garbage_collection_timer_collects_and_leaves_the_registry_writable(host):
    timer = "dockyard-gc-registry.timer"
    assert host.run(f"systemctl is-enabled {timer}").stdout.strip() == "enabled"
    assert host.run(f"systemctl is-active {timer}").stdout.strip() == "active"
    assert "OnCalendar=Sun *-*-* 03:00" in host.file(f"/etc/systemd/system/{timer}").content_string
    before = host.file(f"{CONFIG_DIR}/config.yml").content_string
    started = host.run("systemctl start dockyard-gc-registry.service")
    assert started.rc == 0, host.run("journalctl -u dockyard-gc-registry.service --no-pager").stdout
    lines = host.check_output("journalctl -u dockyard-gc-registry.service --no-pager -o cat").splitlines()
    result = json.loads([line for line in lines if line.startswith("{")][-1])
    assert result["bytes_freed"] == result["bytes_before"] - result["bytes_after"] >= 0
    assert "blobs marked" in result["summary"] and result["readonly_seconds"] > 0
    # Back to the deployed config.yml, byte for byte, and taking pushes.
    assert host.file(f"{CONFIG_DIR}/config.yml").content_string == before
    assert not host.file(f"{CONFIG_DIR}/config.yml.before-gc").exists
    assert json.loads(host.check_output("probe http://127.0.0.1:5000/v2/"))["status"] in (200, 401)


def test_registry_logs_in_the_format_asked_without_trace_export_errors(host):
    hostvars = host.ansible.get_variables()
    logs = host.run("docker logs registry")
    lines = [line for line in (logs.stdout + logs.stderr).splitlines() if line.strip()]
    assert lines
    # 3.x exports traces to localhost:4318 unless told not to, and logs each failure.
    assert not [line for line in lines if "traces export" in line or "localhost:4318" in line]
    # Access lines keep the combined log format; every other line is in the formatter's.
    events = [line for line in lines if not ACCESS_LINE.match(line)]
    assert events and len(events) < len(lines)
    if hostvars.get("registry_log_formatter") == "json":
        assert all(json.loads(line)["level"] for line in events)
    else:
        assert all(line.startswith("time=") and " level=" in line for line in events), events[:5]


def scrape(host, port):
    """The registry's metrics as {(name, frozenset of label pairs): value}."""
    text = json.loads(host.check_output(f"probe http://127.0.0.1:{port}/metrics"))["body"]
    samples = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            labels = frozenset(LABEL.findall(match["labels"] or ""))
            samples[match["name"], labels] = float(match["value"])
    return samples


def total(samples, name, **labels):
    wanted = set(labels.items())
    return sum(value for (each, pairs), value in samples.items() if each == name and wanted <= pairs)


def test_metrics_count_requests_and_storage_on_loopback_only(host):
    hostvars = host.ansible.get_variables()
    port, major = hostvars["registry_metrics_port"], hostvars["expected_version"][0]
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    user = "" if hostvars.get("registry_auth") == "none" else f" --user {hostvars['test_user']}:{hostvars['test_password']}"
    manifest = "http://127.0.0.1:5000/v2/smoke/busybox/manifests/before-recreate"
    before = scrape(host, port)
    for _ in range(3):
        assert json.loads(host.check_output(f"probe {manifest}{user}"))["status"] == 200
    after = scrape(host, port)
    delta = {name: total(after, name, **labels) - total(before, name, **labels) for name, labels in (
        ("registry_http_requests_total", {"handler": "manifest", "method": "get", "code": "200"}),
        ("registry_storage_action_seconds_count", {"driver": "filesystem"}),
        CACHE_REQUESTS[major])}
    assert delta["registry_http_requests_total"] == 3
    assert delta["registry_storage_action_seconds_count"] > 0
    assert delta[CACHE_REQUESTS[major][0]] >= 3
    # 2.x keeps its pull-through cache counters in /debug/vars, 3.x in Prometheus.
    proxy = [name for name, _ in after if name.startswith("registry_proxy_")]
    assert bool(proxy) == (major == "3"), proxy


# Uploads a layer of random bytes larger than the sockets between here and the
# registry hold, starts reading it back, restarts the registry, reads slowly
# for 2 s more (the registry no longer exists unless it drains), then at full
# speed, as nginx reads; prints what arrived.
DRAIN_SCRIPT = r"""
import base64, hashlib, json, os, subprocess, sys, time, urllib.error, urllib.request
address, login = sys.argv[1:3]
headers = {"Content-Type": "application/octet-stream"}
if login:
    headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
def call(method, url, body=None):
    url = url if url.startswith("http") else f"http://{address}{url}"
    return urllib.request.urlopen(urllib.request.Request(url, data=body, method=method, headers=headers))
layer = os.urandom(128 << 20)
digest = "sha256:" + hashlib.sha256(layer).hexdigest()
upload = call("POST", "/v2/drain/layer/blobs/uploads/").headers["Location"]
call("PUT", upload + ("&" if "?" in upload else "?") + "digest=" + digest, layer).close()
response = call("GET", f"/v2/drain/layer/blobs/{digest}")
received = hashlib.sha256(response.read(1 << 20))
restart = subprocess.Popen(["docker", "restart", "registry"], stdout=subprocess.DEVNULL)
started = time.monotonic()
try:
    while chunk := response.read(1 << 20):
        received.update(chunk)
        if time.monotonic() - started < 2:
            time.sleep(0.1)
    error = None
except Exception as exc:
    error = repr(exc)
read_seconds, restarted = round(time.monotonic() - started, 1), restart.wait()
for _ in range(100):
    try:
        call("GET", "/v2/").close()
        break
    except urllib.error.HTTPError:
        break
    except OSError:
        time.sleep(0.2)
print(json.dumps({"intact": "sha256:" + received.hexdigest() == digest, "error": error,
                  "read_seconds": read_seconds, "restart": restarted}))
"""


def test_a_restarted_registry_finishes_the_pull_it_has_begun(host):
    hostvars = host.ansible.get_variables()
    login = "" if hostvars.get("registry_auth") == "none" else f"{hostvars['test_user']}:{hostvars['test_password']}"
    result = json.loads(host.check_output(f"python3 -c {shlex.quote(DRAIN_SCRIPT)} 127.0.0.1:5000 '{login}'"))
    # The read went on after docker restart began, and every byte came.
    assert result["read_seconds"] >= 2 and result["restart"] == 0, result
    assert result["error"] is None and result["intact"], result
    assert json.loads(host.check_output("probe http://127.0.0.1:5000/v2/"))["status"] in (200, 401)
