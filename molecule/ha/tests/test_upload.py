"""One blob uploaded in three chunks through registry-a's front end, which
sends each request to the next registry: both registries serve parts of the
one upload, which completes only because they share the bucket and the secret
that signs the upload's state. And the push side_effect.yml stopped halfway:
the collection after it aborted the multipart upload it left in the bucket,
counted its parts' bytes, and the registry finds the upload's data gone."""

import json

testinfra_hosts = ["ansible://docker_clients"]

REPLICAS = ["registry-a", "registry-b"]

# Run on the client with the test account: POST, three PATCHes and the PUT of
# the upload protocol, then a HEAD of the blob; prints what came back.
UPLOAD = r"""
import base64, hashlib, http.client, json, os, ssl, sys, urllib.parse
user, name = sys.argv[1], "registry.ha.test"
chunks = [os.urandom(6 * 1024 * 1024) for _ in range(3)]
digest = "sha256:" + hashlib.sha256(b"".join(chunks)).hexdigest()
context = ssl.create_default_context(cafile=f"/etc/docker/certs.d/{name}/ca.crt")
connection = http.client.HTTPSConnection(name, 443, context=context, timeout=120)
auth = {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()}
def call(method, url, body=None, **headers):
    connection.request(method, urllib.parse.urlsplit(url)._replace(scheme="", netloc="").geturl(), body=body,
                       headers={**auth, **headers})
    response = connection.getresponse()
    response.read()
    return response
statuses = []
answer = call("POST", "/v2/ha/chunked/blobs/uploads/")
statuses.append(answer.status)
uuid, location, offset = answer.getheader("Docker-Upload-UUID"), answer.getheader("Location"), 0
for chunk in chunks:
    answer = call("PATCH", location, chunk, **{"Content-Type": "application/octet-stream",
                  "Content-Range": f"{offset}-{offset + len(chunk) - 1}", "Content-Length": str(len(chunk))})
    statuses.append(answer.status)
    location, offset = answer.getheader("Location"), offset + len(chunk)
statuses.append(call("PUT", f"{location}&digest={digest}", b"", **{"Content-Length": "0"}).status)
stored = call("HEAD", f"/v2/ha/chunked/blobs/{digest}").getheader("Docker-Content-Digest")
print(json.dumps({"uuid": uuid, "statuses": statuses, "digest": digest, "stored": stored}))
"""


def test_upload_in_chunks_across_both_replicas_completes(host):
    variables = host.ansible.get_variables()
    run = host.run(f"python3 -c '{UPLOAD}' {variables['test_user']}:{variables['test_password']}")
    assert run.rc == 0, run.stderr
    upload = json.loads(run.stdout)
    assert upload["statuses"] == [202, 202, 202, 202, 201]
    assert upload["stored"] == upload["digest"]
    served = {}
    for name in REPLICAS:
        replica = host.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)
        served[name] = sum(1 for line in replica.check_output("docker logs registry 2>&1").splitlines()
                           if upload["uuid"] in line and "response completed" in line)
    # The three PATCHes and the PUT name the upload (the POST that opens it
    # does not yet): both replicas served some of them.
    assert sum(served.values()) == 4 and min(served.values()) > 0, served


def test_the_collection_aborted_the_upload_a_push_left_halfway_and_counted_its_parts(host):
    first = host.get_host("ansible://registry-a", ansible_inventory=host.backend.ansible_inventory)
    report = json.loads(first.file("/root/gc-dry-run.json").content_string)
    assert report["uploads_aborted"] == report["incomplete_uploads"] >= 1, report
    # The stopped push sent 12 MiB: its parts hold 10 MiB at least (the S3 driver's part size).
    assert report["incomplete_upload_bytes"] >= 10 * 1024 * 1024, report


def test_the_registry_finds_the_aborted_uploads_data_gone(host):
    variables = host.ansible.get_variables()
    location = json.loads(host.file("/root/gc/registry.ha.test/interrupted.json").content_string)["location"]
    uuid = location.split("/uploads/")[1].split("?")[0]
    answer = json.loads(host.check_output(
        f"probe '{location}' --user {variables['test_user']}:{variables['test_password']}"
        " --cafile /etc/docker/certs.d/registry.ha.test/ca.crt"))
    # Distribution answers 500 for an upload whose data its storage no longer has.
    assert answer["status"] == 500, answer
    assert f"Path not found: /docker/registry/v2/repositories/gc/interrupted/_uploads/{uuid}/data" in answer["body"]
