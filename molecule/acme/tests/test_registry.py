"""Each registry host serves a certificate from the ACME CA for its name, renewed by certbot."""

import json

import pytest

testinfra_hosts = ["ansible://registries"]

LINEAGE = "dockyard-registry"


@pytest.fixture(scope="module")
def name(host):
    return host.ansible.get_variables()["registry_frontend_server_name"]


def served(host, name, *fields):
    return host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {name} </dev/null 2>/dev/null"
        f" | openssl x509 -noout {' '.join(fields)}")


def test_nginx_serves_a_certificate_from_pebble_for_the_name(host, name):
    assert "Pebble Intermediate" in served(host, name, "-issuer")
    assert served(host, name, "-ext", "subjectAltName").split()[-1] == f"DNS:{name}"


def test_served_certificate_is_the_one_certbot_holds(host, name):
    held = host.check_output(f"openssl x509 -noout -serial -in /etc/letsencrypt/live/{LINEAGE}/cert.pem")
    assert served(host, name, "-serial") == held


def test_one_issue_per_converge_that_needed_it_plus_the_forced_renewal(host):
    # converge issued one, the idempotence run none, side_effect renewed once.
    issued = host.check_output(f"ls /etc/letsencrypt/archive/{LINEAGE} | grep -c '^cert'")
    assert issued == "2"


def test_renewal_is_left_to_certbots_timer_with_the_deploy_hook(host):
    assert host.service("certbot.timer").is_enabled
    assert host.service("certbot.timer").is_running
    renewal = host.file(f"/etc/letsencrypt/renewal/{LINEAGE}.conf").content_string
    assert "renew_hook = /usr/local/sbin/dockyard-acme-deploy /etc/dockyard/tls/registry" in renewal
    assert "authenticator = webroot" in renewal


@pytest.mark.parametrize("path", ["/etc/dockyard/acme/dockyard-registry.ini",
                                  "/etc/dockyard/tls/registry/privkey.pem"])
def test_secrets_are_readable_by_root_only(host, path):
    assert host.file(path).mode & 0o077 == 0


def test_http_serves_challenges_and_redirects_the_rest(host, name):
    webroot = "/var/lib/dockyard/acme-challenge/.well-known/acme-challenge"
    host.check_output(f"mkdir -p {webroot} && echo token-body > {webroot}/t1")
    challenge = json.loads(host.check_output(f"probe http://{name}/.well-known/acme-challenge/t1"))
    host.check_output(f"rm {webroot}/t1")
    assert (challenge["status"], challenge["body"]) == (200, "token-body\n")
    redirect = json.loads(host.check_output(f"probe http://{name}/v2/"))
    assert (redirect["status"], redirect["headers"]["location"]) == (301, [f"https://{name}/v2/"])
