"""The access rules, compiled and rendered into the vhost, decide as docs/guides/teams.md says.

The vhost's map blocks are evaluated here as nginx evaluates them (exact keys
first, then the regular expressions in their order, the first match winning),
for requests as clients send them; the scenario default sends the same kinds
of request to a real nginx.
"""

import fnmatch
import re
from pathlib import Path
from urllib.parse import quote

import jinja2
import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.filter import access

# The collection's root: this checkout, or the installed collection.
ROOT = Path(__file__).resolve().parents[4]

DIGEST = "sha256:" + "ab" * 32
GROUPS = {"team-a": ["alice"], "team-b": ["bob"], "ops": ["admin"]}
RULES = [
    {"repository": "team-a/*", "pull": ["ci"], "push": ["team-a"]},
    {"repository": "team-b/*", "pull": ["ci"], "push": ["team-b"]},
    {"repository": "base/*", "pull": ["team-a", "team-b", "ci"], "push": ["ops"], "anonymous": True},
    {"repository": "base/secret", "pull": ["ops"], "push": ["ops"]},
    {"repository": "*", "push": ["ops"]},
]


IMMUTABLE = [
    {"repository": "releases/*", "tags": ["v*", "release-*"], "except": ["*-rc*"], "users": ["ops"]},
    {"repository": "releases/scratch", "tags": ["keep"]},
    {"repository": "base/*", "except": ["latest"]},
]


def render(rules=None, auth="registry", catalog=("ops",), immutable=None):
    """The vhost the role writes for these rules and immutable tags (RULES and IMMUTABLE by default)."""
    rules = RULES if rules is None else rules
    immutable = IMMUTABLE if immutable is None else immutable
    defaults = yaml.safe_load((ROOT / "roles/registry_frontend/defaults/main.yml").read_text())
    variables = dict(defaults, registry_frontend_server_name="registry.example.com", registry_frontend_auth=auth,
                     registry_frontend_push_port=5443 if auth == "anonymous_pull" else 0,
                     registry_frontend_access_rules=rules,
                     registry_frontend_audit_log="/var/log/dockyard/registry-audit.log",
                     registry_frontend_access=access.dockyard_access_compile(rules, GROUPS, list(catalog)),
                     registry_frontend_immutable_tags=immutable,
                     registry_frontend_immutable=access.dockyard_immutable_compile(immutable, GROUPS),
                     registry_frontend_refusal_socket="/run/nginx-dockyard-registry-refusals.sock",
                     registry_frontend_route_socket="/run/nginx-dockyard-{name}.sock")
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    environment.filters["regex_replace"] = lambda value, pattern, replacement: re.sub(pattern, replacement, value)
    environment.filters["regex_escape"] = re.escape
    template = (ROOT / "roles/registry_frontend/templates/vhost.conf.j2").read_text()
    return environment.from_string(template).render(variables)


ENTRY = re.compile(r'^\s*("[^"]*"|\S+)\s+("[^"]*"|\S+);$')


def maps(vhost):
    """{variable: (source, [(key, value)])} of the vhost's map blocks."""
    found = {}
    for source, variable, body in re.findall(r"^map (\S+) \$(\w+) \{\n(.*?)^\}", vhost, re.M | re.S):
        entries = []
        for line in body.splitlines():
            if line.strip().startswith("#") or not line.strip():
                continue
            key, value = ENTRY.match(line).groups()
            entries.append((key.strip('"'), value.strip('"')))
        found[variable] = (source.strip('"'), entries)
    return found


class Request:
    """One request as nginx's maps see it."""

    def __init__(self, vhost, method, uri, user="", content_type="", **inputs):
        self.maps = maps(vhost)
        self.inputs = {"request_method": method, "request_uri": uri, "remote_user": user,
                       "content_type": content_type, **inputs}

    def interpolate(self, text, groups=()):
        def value(match):
            name = match.group(1)
            return groups[int(name) - 1] if name.isdigit() else self[name]
        return re.sub(r"\$(\w+)", value, text)

    def __getitem__(self, variable):
        if variable in self.inputs:
            return self.inputs[variable]
        source, entries = self.maps[variable]
        key = self.interpolate(source)
        plain = {k: v for k, v in entries if not k.startswith("~") and k != "default"}
        if key in plain:
            return self.interpolate(plain[key])
        for pattern, value in entries:
            if pattern.startswith("~"):
                flags = re.I if pattern.startswith("~*") else 0
                match = re.search(pattern.lstrip("~*") if flags else pattern[1:], key, flags)
                if match:
                    return self.interpolate(value, match.groups())
        return self.interpolate(dict(entries).get("default", ""))

    def denied(self, prefix="dockyard_registry"):
        return self[f"{prefix}_denied"] not in ("", "0")


def allowed(method, uri, user="", content_type="", vhost=None):
    return not Request(vhost or VHOST, method, uri, user, content_type).denied()


VHOST = render()


@pytest.mark.parametrize("method, uri, user, expected", [
    # each team pushes and pulls its own; the CI user pulls both; the other team nothing
    ("PUT", "/v2/team-a/app/manifests/1.0", "alice", True),
    ("POST", "/v2/team-a/app/blobs/uploads/", "alice", True),
    ("PATCH", "/v2/team-a/app/blobs/uploads/0f9a-b_c.=", "alice", True),
    ("GET", "/v2/team-a/app/manifests/1.0", "ci", True),
    ("HEAD", f"/v2/team-a/app/blobs/{DIGEST}", "ci", True),
    ("GET", "/v2/team-a/app/tags/list?n=10", "ci", True),
    ("PUT", "/v2/team-a/app/manifests/1.0", "ci", False),
    ("GET", "/v2/team-a/app/manifests/1.0", "bob", False),
    ("POST", "/v2/team-a/app/blobs/uploads/", "bob", False),
    # deletes follow push rights
    ("DELETE", f"/v2/team-a/app/manifests/{DIGEST}", "alice", True),
    ("DELETE", f"/v2/team-a/app/manifests/{DIGEST}", "ci", False),
    # the shared base: both teams and CI pull, ops pushes; base/secret is ops' alone (exact name first)
    ("GET", "/v2/base/python/manifests/3.12", "alice", True),
    ("GET", "/v2/base/python/manifests/3.12", "bob", True),
    ("PUT", "/v2/base/python/manifests/3.12", "alice", False),
    ("PUT", "/v2/base/python/manifests/3.12", "admin", True),
    ("GET", "/v2/base/secret/manifests/1", "alice", False),
    ("GET", "/v2/base/secret/manifests/1", "admin", True),
    # "*" governs what no other rule matches; ops does not pull team-a (the more specific rule)
    ("PUT", "/v2/tools/lint/manifests/1", "admin", True),
    ("GET", "/v2/tools/lint/manifests/1", "alice", False),
    ("GET", "/v2/team-a/app/manifests/1", "admin", False),
    # the catalog: the catalog's users only
    ("GET", "/v2/_catalog", "admin", True),
    ("GET", "/v2/_catalog?n=100", "alice", False),
    # the ping: everyone (the registry or nginx asks for the password)
    ("GET", "/v2/", "", True),
    ("GET", "/v2/", "bob", True),
    # what a client does not send: no name nginx and the registry could read apart
    ("GET", "/v2/team-a/../team-b/app/manifests/1", "alice", False),
    ("GET", "/v2/team-b%2Fapp/manifests/1", "bob", False),
    ("GET", "/v2/team-%62/app/manifests/1", "bob", False),
    ("GET", "/v2/Team-B/app/manifests/1", "bob", False),
    ("GET", "/v2/team-b//app/manifests/1", "bob", False),
    ("GET", "/v2/team-b/app/manifests/1/", "bob", False),
    ("GET", "/v2/team-b/app/other/1", "bob", False),
    # anonymous requests get nothing from the rules but the ping
    ("GET", "/v2/team-a/app/manifests/1", "", False),
])
def test_rules_grant_what_they_say_and_nothing_else(method, uri, user, expected):
    assert allowed(method, uri, user) is expected


@pytest.mark.parametrize("query, expected", [
    ("", True),
    (f"?digest={quote(DIGEST)}", True),
    (f"?mount={quote(DIGEST)}", True),
    # a mount from a repository alice may pull, either order, '/' plain or escaped
    (f"?from=base%2Fpython&mount={quote(DIGEST)}", True),
    (f"?mount={DIGEST}&from=base/python", True),
    (f"?mount={quote(DIGEST)}&from=team-a%2Fother", True),
    # from one she may not pull
    (f"?from=team-b%2Fapp&mount={quote(DIGEST)}", False),
    (f"?mount={DIGEST}&from=base/secret", False),
    (f"?from=base%2fsecret&mount={quote(DIGEST)}", False),
    # queries nginx would read otherwise than the registry: refused
    (f"?fr%6Fm=team-b%2Fapp&mount={quote(DIGEST)}&from=base%2Fpython", False),
    (f"?from=base%2Fpython&from=team-b%2Fapp&mount={quote(DIGEST)}", False),
    (f"?FROM=base%2Fpython&from=team-b%2Fapp&mount={quote(DIGEST)}", False),
    (f"?from=team-%62%2Fapp&mount={quote(DIGEST)}", False),
    (f"?mount={quote(DIGEST)}&from=base%2Fpython&x=elsewhere", False),
    # what crane and containerd add, which the registry does not read
    (f"?from=base%2Fpython&mount={quote(DIGEST)}&origin=registry.example.com", True),
    (f"?from=team-b%2Fapp&mount={quote(DIGEST)}&origin=registry.example.com", False),
    (f"?from=base%2Fpython&mount={quote(DIGEST)}&ns=docker.io", True),
])
def test_a_mount_needs_pull_rights_on_its_source(query, expected):
    assert allowed("POST", f"/v2/team-a/app/blobs/uploads/{query}", "alice") is expected
    # Where "*" lets anyone pull, a refused query must still be refused.
    vhost = render(RULES[:-1] + [{"repository": "*", "push": ["ops"], "anonymous": True}], auth="anonymous_pull")
    assert allowed("POST", f"/v2/team-a/app/blobs/uploads/{query}", "alice", vhost=vhost) is expected


# An upload session as the registry hands it out (Location), and a push's use of it.
SESSION = ("/v2/team-b/app/blobs/uploads/4dcde13c-8704-409a-a171-01d772147ee4?_state=uwLs73DQWxjJe8qYXiI5rI9zgXlEg"
           "zTXVTJQ8DkAhUV7Ik5hbWUiOiJ0ZWFtLWIvYXBwIn0%3D")


@pytest.mark.parametrize("auth", ["registry", "anonymous_pull"])
@pytest.mark.parametrize("source", ["team-a/app", "team-a%2Fapp", "base%2Fpython"])
def test_no_mount_goes_through_an_upload_session_which_takes_no_post(auth, source):
    vhost = render(auth=auth)
    # distribution routes a POST on a session to the upload's start, which mounts from any "from"
    assert not allowed("POST", f"{SESSION}&mount={quote(DIGEST)}&from={source}", "bob", vhost=vhost)
    assert not allowed("POST", f"{SESSION}&from={source}&mount={DIGEST}", "bob", vhost=vhost)
    assert not allowed("POST", SESSION, "bob", vhost=vhost)
    # nor a "from" on any request but the start of an upload
    for method in ("PATCH", "PUT", "GET", "DELETE"):
        assert not allowed(method, f"{SESSION}&from={source}", "bob", vhost=vhost), method
    assert not allowed("GET", f"/v2/team-b/app/blobs/{DIGEST}?from={source}", "bob", vhost=vhost)
    # what a push does with its session is let through
    for method, query in [("PATCH", ""), ("PUT", f"&digest={quote(DIGEST)}"), ("GET", ""), ("HEAD", ""),
                          ("DELETE", ""), ("PUT", f"&digest={quote(DIGEST)}&ns=docker.io")]:
        assert allowed(method, SESSION + query, "bob", vhost=vhost), (method, query)


@pytest.mark.parametrize("method, uri, user, expected", [
    # the ping: GET and HEAD, no query
    ("GET", "/v2/", "bob", True),
    ("HEAD", "/v2/", "bob", True),
    ("POST", "/v2/", "bob", False),
    ("OPTIONS", "/v2/", "bob", False),
    ("GET", "/v2/?x=1", "bob", False),
    # the catalog: GET, with n and last
    ("GET", "/v2/_catalog?n=10&last=team-a%2Fapp", "admin", True),
    ("GET", "/v2/_catalog?last=b&n=2", "admin", True),
    ("HEAD", "/v2/_catalog", "admin", False),
    ("DELETE", "/v2/_catalog", "admin", False),
    ("GET", "/v2/_catalog?ns=docker.io", "admin", False),
    # tags: GET, with n, last and ns
    ("GET", "/v2/team-a/app/tags/list?n=1&last=1.0&ns=docker.io", "alice", True),
    ("HEAD", "/v2/team-a/app/tags/list", "alice", False),
    ("OPTIONS", "/v2/team-a/app/tags/list", "alice", False),
    ("DELETE", "/v2/team-a/app/tags/list", "alice", False),
    ("GET", "/v2/team-a/app/tags/list?N=1", "alice", False),
    ("GET", "/v2/team-a/app/tags/list?%6E=1", "alice", False),
    # manifests: GET, HEAD, PUT, DELETE, with ns (containerd's, to a mirror)
    ("GET", "/v2/team-a/app/manifests/1.0?ns=docker.io", "alice", True),
    ("HEAD", f"/v2/team-a/app/manifests/{DIGEST}", "alice", True),
    ("PUT", "/v2/team-a/app/manifests/1.0", "alice", True),
    ("DELETE", f"/v2/team-a/app/manifests/{DIGEST}", "alice", True),
    ("POST", "/v2/team-a/app/manifests/1.0", "alice", False),
    ("PATCH", "/v2/team-a/app/manifests/1.0", "alice", False),
    ("GET", "/v2/team-a/app/manifests/1.0?x=1", "alice", False),
    ("PUT", "/v2/team-a/app/manifests/1.0?tag=2.0", "alice", False),
    # blobs: GET, HEAD, DELETE
    ("GET", f"/v2/team-a/app/blobs/{DIGEST}?ns=docker.io", "alice", True),
    ("DELETE", f"/v2/team-a/app/blobs/{DIGEST}", "alice", True),
    ("PUT", f"/v2/team-a/app/blobs/{DIGEST}", "alice", False),
    ("POST", f"/v2/team-a/app/blobs/{DIGEST}", "alice", False),
    # an upload's start: POST alone, with digest, mount, from (checked) and ns
    ("POST", f"/v2/team-a/app/blobs/uploads/?digest={quote(DIGEST)}&ns=docker.io", "alice", True),
    ("POST", f"/v2/team-a/app/blobs/uploads/?from=base%2Fpython&mount={quote(DIGEST)}&ns=docker.io", "alice", True),
    ("PATCH", "/v2/team-a/app/blobs/uploads/", "alice", False),
    ("PUT", f"/v2/team-a/app/blobs/uploads/?digest={quote(DIGEST)}", "alice", False),
    ("GET", "/v2/team-a/app/blobs/uploads/", "alice", False),
    ("POST", "/v2/team-a/app/blobs/uploads/?_state=x", "alice", False),
    # a session: GET, HEAD, PATCH, PUT, DELETE, with its state and the digest
    ("GET", f"/v2/team-a/app/blobs/uploads/0f9a?_state=a_b-c%3D&digest={quote(DIGEST)}", "alice", True),
    ("PATCH", f"/v2/team-a/app/blobs/uploads/0f9a?_state=a_b-c%3D&mount={quote(DIGEST)}", "alice", False),
    ("GET", "/v2/team-a/app/blobs/uploads/..", "alice", False),
    ("GET", "/v2/team-a/app/blobs/uploads/.", "alice", False),
    # pairs only as Go and nginx read them alike: no ";", "+", empty pair or escaped key
    ("GET", "/v2/team-a/app/blobs/uploads/0f9a?_state=a;from=team-b%2Fapp", "alice", False),
    ("GET", "/v2/team-a/app/blobs/uploads/0f9a?_state=a&", "alice", False),
    ("GET", "/v2/team-a/app/blobs/uploads/0f9a?_state=a+b", "alice", False),
    ("GET", "/v2/team-a/app/blobs/uploads/0f9a?%5Fstate=a", "alice", False),
    ("GET", "/v2/team-a/app/blobs/uploads/0f9a?_state", "alice", False),
    # methods no route takes
    ("TRACE", "/v2/team-a/app/manifests/1.0", "alice", False),
    ("PROPFIND", "/v2/team-a/app/manifests/1.0", "alice", False),
])
def test_only_the_requests_distribution_serves_are_let_through(method, uri, user, expected):
    assert allowed(method, uri, user) is expected


@pytest.mark.parametrize("row", access.dockyard_access_routes(), ids=lambda row: f"{row['route']}-{row['methods'][0]}")
def test_each_request_in_the_readme_table_takes_the_right_it_says(row):
    for method in row["methods"]:
        action = Request(VHOST, method, "/v2/team-a/app/tags/list")["dockyard_registry_action"]
        assert row["right"] == action or row["route"] in ("base", "catalog"), (row, method)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "Application/X-WWW-Form-Urlencoded"])
def test_a_form_body_is_refused_for_the_registry_would_read_a_mount_from_it(content_type):
    assert not allowed("POST", "/v2/team-a/app/blobs/uploads/", "alice", content_type)
    assert allowed("POST", "/v2/team-a/app/blobs/uploads/", "alice", "application/octet-stream")


def test_anonymous_rules_open_pulls_on_the_anonymous_port_only_where_they_say():
    vhost = render(auth="anonymous_pull")
    for uri, user, expected_realm in [("/v2/base/python/manifests/1", "", "off"), ("/v2/", "", "off"),
                                      ("/v2/team-a/app/manifests/1", "alice", "Registry registry"),
                                      ("/v2/base/secret/manifests/1", "", "Registry registry")]:
        request = Request(vhost, "GET", uri, user)
        assert request["dockyard_registry_realm"] == expected_realm, uri
    assert allowed("GET", "/v2/base/python/manifests/1", "", vhost=vhost)
    assert allowed("GET", "/v2/base/python/manifests/1", "anyone", vhost=vhost)
    assert not allowed("GET", "/v2/base/secret/manifests/1", "", vhost=vhost)
    assert not allowed("PUT", "/v2/base/python/manifests/1", "", vhost=vhost)
    assert allowed("PUT", "/v2/base/python/manifests/1", "admin", vhost=vhost)


def test_the_most_specific_pattern_governs_then_the_first_listed():
    rules = [{"repository": "*/app"}, {"repository": "team-*"}, {"repository": "team-a/*"},
             {"repository": "*-a/*"}, {"repository": "team-a/app"}, {"repository": "*"}]
    order = [rule["repository"] for rule in access.dockyard_access_compile(rules)["rules"]]
    assert order == ["team-a/app", "team-a/*", "team-*", "*/app", "*-a/*", "*"]


NAMES = ["a", "team-a/app", "team-a/x/y", "team-ab", "base", "base/python", "base/python/slim", "b.c/d_e",
         "x__y/z--w", "team-a", "ateam-a/app"]


@pytest.mark.parametrize("pattern", ["*", "team-a/*", "team-*", "*/app", "base/*/slim", "team-a", "b.c/*", "*a*"])
def test_patterns_match_as_shell_patterns_do_in_paths_and_escaped_in_queries(pattern):
    rule = access.dockyard_access_compile([{"repository": pattern}])["rules"][0]
    for name in NAMES:
        expected = fnmatch.fnmatchcase(name, pattern)
        if rule["exact"]:
            assert (name == pattern) is expected
        else:
            assert bool(re.search(rule["regex"], name)) is expected, name
        for written in (name, name.replace("/", "%2F"), name.replace("/", "%2f")):
            assert bool(re.search(rule["query_regex"], written)) is expected, written


def test_groups_stand_for_their_members_and_pushers_also_pull():
    rule = access.dockyard_access_compile(RULES[:1], GROUPS)["rules"][0]
    assert rule["push"] == ["alice"]
    assert rule["pull"] == ["ci", "alice"]


def test_nothing_from_a_rule_breaks_out_of_its_quoted_place_in_the_vhost():
    # The maps' keys and values as rendered: quoted, or one word, never a quote or brace inside.
    for variable, (_source, entries) in maps(VHOST).items():
        for key, value in entries:
            assert '"' not in key and "{" not in value and ";" not in key + value, (variable, key)
    assert VHOST.count("{") == VHOST.count("}")


@pytest.mark.parametrize("method, uri, user, expected", [
    # a guarded tag: checked with the registry before a push, never deleted; the rule's users pass
    ("PUT", "/v2/releases/app/manifests/v1.0", "alice", "check"),
    ("PUT", "/v2/releases/app/manifests/release-2026", "alice", "check"),
    ("DELETE", "/v2/releases/app/manifests/v1.0", "alice", "deny"),
    ("PUT", "/v2/releases/app/manifests/v1.0", "admin", ""),
    ("DELETE", "/v2/releases/app/manifests/v1.0", "admin", ""),
    # by digest: pushed as ever (content-addressed), deleted by the rule's users only
    ("PUT", f"/v2/releases/app/manifests/{DIGEST}", "alice", ""),
    ("DELETE", f"/v2/releases/app/manifests/{DIGEST}", "alice", "deny"),
    ("DELETE", f"/v2/releases/app/manifests/{DIGEST}", "admin", ""),
    # what the rule leaves mutable: its except, other tags, other repositories, reads, blobs
    ("PUT", "/v2/releases/app/manifests/v1.0-rc1", "alice", ""),
    ("PUT", "/v2/releases/app/manifests/nightly", "alice", ""),
    ("DELETE", "/v2/releases/app/manifests/nightly", "alice", ""),
    ("PUT", "/v2/releases/app/manifests/v1.0?ns=docker.io", "alice", "check"),
    ("PUT", "/v2/team-a/app/manifests/v1.0", "alice", ""),
    ("GET", "/v2/releases/app/manifests/v1.0", "alice", ""),
    ("HEAD", "/v2/releases/app/manifests/v1.0", "alice", ""),
    ("DELETE", f"/v2/releases/app/blobs/{DIGEST}", "alice", ""),
    ("PUT", "/v2/releases/app/blobs/uploads/0f9a?digest=sha256%3Aab", "alice", ""),
    # the most specific pattern governs: releases/scratch guards keep alone, and exempts nobody
    ("PUT", "/v2/releases/scratch/manifests/v1.0", "alice", ""),
    ("PUT", "/v2/releases/scratch/manifests/keep", "admin", "check"),
    ("DELETE", f"/v2/releases/scratch/manifests/{DIGEST}", "admin", "deny"),
    # tags default to every tag, latest excepted
    ("PUT", "/v2/base/python/manifests/3.12", "admin", "check"),
    ("PUT", "/v2/base/python/manifests/latest", "admin", ""),
    # the tags that hold signatures and other referrers stay mutable: their tools push them again
    ("PUT", f"/v2/base/python/manifests/sha256-{'ab' * 32}.sig", "admin", ""),
    ("PUT", f"/v2/base/python/manifests/sha256-{'ab' * 32}", "admin", ""),
    ("DELETE", f"/v2/base/python/manifests/sha256-{'ab' * 32}.att", "admin", ""),
    ("PUT", f"/v2/base/python/manifests/sha256-{'ab' * 32}.old", "admin", "check"),
    # a tag is matched whole and with its case
    ("PUT", "/v2/releases/app/manifests/xv1.0", "alice", ""),
    ("PUT", "/v2/releases/app/manifests/V1.0", "alice", ""),
])
def test_immutable_tags_are_checked_refused_or_let_through_as_the_rules_say(method, uri, user, expected):
    assert Request(VHOST, method, uri, user)["dockyard_registry_immutable"] == expected


@pytest.mark.parametrize("method, uri, status, target", [
    ("PUT", "/v2/releases/app/manifests/v1.0", "200", "dockyard_registry_refusals"),
    ("PUT", "/v2/releases/app/manifests/v1.0", "404", "dockyard_registry"),
    ("DELETE", "/v2/releases/app/manifests/v1.0", "200", "dockyard_registry_refusals"),
    ("DELETE", f"/v2/releases/app/manifests/{DIGEST}", "404", "dockyard_registry_refusals"),
    ("PUT", "/v2/releases/app/manifests/nightly", "", "dockyard_registry"),
])
def test_the_registrys_answer_on_the_tag_decides_where_the_request_goes(method, uri, status, target):
    request = Request(VHOST, method, uri, "alice", dockyard_registry_tag_status=status)
    assert request["dockyard_registry_target"] == target


def test_the_refusal_names_the_tag_and_the_repository():
    push = Request(VHOST, "PUT", "/v2/releases/app/manifests/v1.0", "alice")
    assert push["dockyard_registry_refusal"] == "tag v1.0 of releases/app is immutable: it is not pushed again"
    delete = Request(VHOST, "DELETE", f"/v2/releases/app/manifests/{DIGEST}", "alice")
    assert delete["dockyard_registry_refusal"] == f"releases/app keeps immutable tags: {DIGEST} is not deleted"


def test_immutable_tags_are_checked_on_the_ports_that_take_writes_and_cost_nothing_without_rules():
    assert render().count("auth_request /.dockyard-immutable;") == 1
    both_ports = render(auth="anonymous_pull")
    assert both_ports.count("auth_request /.dockyard-immutable;") == 1  # the push port; the other takes no writes
    assert both_ports.index("listen 5443 ssl;") < both_ports.index("auth_request /.dockyard-immutable;")
    assert "immutable" not in render(immutable=[]).replace("immutable_tags", "")


def test_retention_reads_the_guarded_tags_as_nginx_does():
    rules = access.dockyard_immutable_compile(IMMUTABLE)["rules"]
    governing = next(rule for rule in rules if re.search(rule["regex"], "releases/app"))
    assert [tag for tag in ["v1", "v1-rc1", "release-1", "nightly"] if re.search(governing["tags"], tag)] == \
        ["v1", "release-1"]
