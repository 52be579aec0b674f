"""registry-v3 lets in only the client and itself (on loopback, which its allow list does not name): any
other host gets a 403."""

import json

testinfra_hosts = ["ansible://registry-v2"]


def test_front_end_refuses_hosts_outside_its_allow_list(host):
    response = json.loads(host.check_output("probe https://registry-v3/v2/ --insecure"))
    assert response["status"] == 403
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]


def test_front_end_lets_its_own_host_in_on_loopback(host):
    registry = host.get_host("ansible://registry-v3", ansible_inventory=host.backend.ansible_inventory)
    # Anonymous pulls on 443, pushes with a login on 5443.
    for port, status in ((443, 200), (5443, 401)):
        assert json.loads(registry.check_output(f"probe https://127.0.0.1:{port}/v2/ --insecure"))["status"] == status
