"""registry-v3 lets in only the client and itself: any other host gets a 403."""

import json

testinfra_hosts = ["ansible://registry-v2"]


def test_front_end_refuses_hosts_outside_its_allow_list(host):
    response = json.loads(host.check_output("probe https://registry-v3/v2/ --insecure"))
    assert response["status"] == 403
    assert response["headers"]["docker-distribution-api-version"] == ["registry/2.0"]
