"""The OCI distribution-spec conformance suite (spec version 1.1), run from the
client through nginx with TLS and a login, against distribution 2.x and 3.x
(scenario default), the replicated registry (scenario ha) and 2.x and 3.x with
token auth (scenario acme).

Its reports are kept in reports/conformance/<host>/ (junit.xml, report.html,
results.yaml). The suite marks each API and each kind of content Pass, FAIL,
Skip (the registry answered that it does not support it) or Disabled (turned
off below). A run passes when exactly the known gaps of that version fail:
a new failure fails the test, and so does a gap that went away (update the
docs/reference/compatibility.md then).
"""

import os
from pathlib import Path

import pytest
import yaml

testinfra_hosts = ["ansible://docker_clients"]

REPORTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "conformance"

# Features neither 2.x nor 3.x has: the referrers API, sha512 digests, the
# OCI-Subject answer to a manifest with a subject, and foreign layers (refused
# unless validation.manifests.urls allows them).
UNSUPPORTED = ["API_REFERRER", "DATA_SHA512", "DATA_SUBJECT", "DATA_SUBJECT_MISSING",
               "DATA_SUBJECT_LIST", "DATA_NONDISTRIBUTABLE"]

# What distribution 2.8 gets wrong (docs/reference/compatibility.md): it accepts chunks
# out of order (202, not 416), breaks off an invalid Range request, and
# answers a malformed digest with 500 instead of 400. The suite counts these
# under the APIs and content kinds named here.
GAPS_2_8 = {"Blob chunked", "Blob get range", "Manifest get by digest", "Manifest put by digest", "Blobs sha256",
            "Invalid Manifest Digest"}
KNOWN_GAPS = {
    "default": {"registry-v2:443": GAPS_2_8, "registry-v3:5443": set()},
    "ha": {"registry.ha.test": set()},
    "acme": {"registry.dockyard.test": GAPS_2_8, "registry3.dockyard.test": set()},
}[os.environ["MOLECULE_SCENARIO_NAME"]]


@pytest.fixture(scope="module", params=sorted(KNOWN_GAPS))
def results(request, host):
    registry = request.param
    out = f"/root/conformance/{registry.split(':')[0]}"
    variables = host.ansible.get_variables()
    env = " ".join([
        f"SSL_CERT_FILE=/etc/docker/certs.d/{registry}/ca.crt", f"OCI_REGISTRY={registry}", "OCI_TLS=enabled",
        f"OCI_USERNAME={variables['test_user']}", f"OCI_PASSWORD={variables['test_password']}", "OCI_VERSION=1.1",
        f"OCI_RESULTS_DIR={out}",
    ] + [f"OCI_{name}=false" for name in UNSUPPORTED])
    run = host.run(f"rm -rf {out} && cd /tmp && env {env} oci-conformance")
    kept = REPORTS / registry.split(":")[0]
    kept.mkdir(parents=True, exist_ok=True)
    for name in ("junit.xml", "report.html", "results.yaml"):
        (kept / name).write_bytes(host.file(f"{out}/{name}").content)
    return registry, run, yaml.safe_load((kept / "results.yaml").read_text())


def failed(section):
    return {name for name, status in section.items() if status == "FAIL"}


def test_exactly_the_known_gaps_fail(results):
    registry, run, report = results
    assert failed(report["apis"]) | failed(report["data"]) == KNOWN_GAPS[registry], run.stderr[-4000:]
    assert run.rc == (1 if KNOWN_GAPS[registry] else 0)


@pytest.mark.parametrize("workflow, apis", [
    ("pull", ["Ping", "Blob get", "Blob head", "Manifest get by tag", "Manifest head by tag",
              "Manifest head by digest"]),
    ("push", ["Blob push", "Blob post put", "Blob streaming", "Blob mount", "Manifest put by tag"]),
    ("content discovery", ["Tag listing"]),
    ("content management", ["Blob delete", "Manifest delete"]),
])
def test_each_workflow_passes_through_the_front_end(results, workflow, apis):
    _, _, report = results
    assert {api: report["apis"][api] for api in apis} == dict.fromkeys(apis, "Pass"), workflow


def test_report_redacts_the_login(results):
    _, _, report = results
    assert report["config"]["password"] == "***" and report["config"]["tls"] == "enabled"
