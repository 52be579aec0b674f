"""Generated files get only values that passed a grammar.

Every variable a template renders into nginx's vhost, certbot's settings,
containerd's hosts.toml, redis's settings or a systemd unit must be checked with
a grammar (declared in its option's argument spec, or, for a value computed
from options, in its role's validate.yml), and no such grammar lets through what would let a
value break out of its place in the file: a line break, a quote, a brace, a
semicolon, a space (in redis's quoted strings: a line break, a quote, a space
or a backslash; in a systemd unit: a line break, a backslash, a '%', a quote or
a semicolon).
(registry's config.yml and daemon.json are written from data by to_nice_yaml
and json.dumps, which quote every value.)
"""

import importlib.util
import json
import re
from pathlib import Path

import ansiblelint
import jinja2
import jinja2.meta
import jsonschema
import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.filter import dockyard as filters

ROOT = Path(__file__).resolve().parents[2]
# tools/docs.py: which values each role checks against which grammar.
SPEC = importlib.util.spec_from_file_location("docs", ROOT / "tools" / "docs.py")
docs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(docs)

BREAKOUTS = ["x\ny", "x\ry", 'x"y', "x'y", "x}y", "x{y", "x;y", "x y", "x\ty", "x$y", "x`y", "x#y"]
REDIS_BREAKOUTS = ["x\ny", "x\ry", 'x"y', "x'y", "x y", "x\ty", "x\\y"]
# systemd units: a new line or a continuation, a specifier, a quote or a word separator of ExecStart.
SYSTEMD_BREAKOUTS = ["x\ny", "x\ry", "x\\y", "x%y", 'x"y', "x'y", "x;y"]
# template -> (role whose validate.yml checks it, {loop variable: the list it iterates}, what breaks out)
TEMPLATES = {
    "roles/registry_frontend/templates/vhost.conf.j2": ("registry_frontend", {}, BREAKOUTS),
    "roles/registry_frontend/templates/audit.logrotate.j2": ("registry_frontend", {}, BREAKOUTS),
    "roles/registry_certs/templates/acme.ini.j2": ("registry_certs", {}, BREAKOUTS),
    "roles/registry_client/templates/hosts.toml.j2": ("registry_client", {"mirror": "registry_client_upstream_mirrors"},
                                                      BREAKOUTS),
    "roles/registry_client/templates/registries.conf.j2": ("registry_client",
                                                           {"mirror": "registry_client_upstream_mirrors"}, BREAKOUTS),
    "roles/redis_server/templates/redis.conf.j2": ("redis_server", {}, REDIS_BREAKOUTS),
    "roles/redis_server/templates/sentinel.conf.j2": ("redis_server", {}, REDIS_BREAKOUTS),
    "roles/redis_server/templates/redis-server.service.j2": ("redis_server", {}, SYSTEMD_BREAKOUTS),
    "roles/registry/templates/dockyard-gc.service.j2": ("registry", {}, SYSTEMD_BREAKOUTS),
    "roles/registry/templates/dockyard-gc.timer.j2": ("registry", {}, SYSTEMD_BREAKOUTS),
    "roles/registry_token/templates/dockyard-token.service.j2": ("registry_token", {}, SYSTEMD_BREAKOUTS),
    "roles/registry_token/templates/dockyard-token.socket.j2": ("registry_token", {}, SYSTEMD_BREAKOUTS),
}
# Rendered but not given by the inventory: computed from checked values.
DERIVED = {"registry_certs_acme_cert_name": ["certbot certificate name"],
           "registry_frontend_blob_cache_dir": ["registry_frontend_name"],
           "registry_frontend_audit_log": ["registry_frontend_name"],
           "registry_frontend_refusal_socket": ["registry_frontend_name"],
           "registry_frontend_route_socket": ["registry_frontend_name"],
           "registry_client_upstream_present": ["registry_client_upstream_mirrors"],
           "registry_token_dir": ["registry_token_service"],
           "registry_token_unit": ["registry_token_service"],
           # constants of the roles' vars, a digest, and the id a sentinel gave itself
           "registry_token_account": [],
           "redis_server_config": [],
           "redis_server_sentinel_mark": [],
           "redis_server_sentinel_myid": [],
           # the group's first host, or the address and port the sentinels answer (vars/main.yml matches them)
           "redis_server_master": ["redis_server_bind_address", "redis_server_port"],
           "redis_server_quorum": ["redis_server_group"],
           # filter_plugins/access.py: tag patterns and user names into nginx maps
           "registry_frontend_immutable": ["registry_frontend_immutable_tags", "registry_frontend_access_groups"],
           # filter_plugins/access.py: patterns, user and group names into nginx maps
           "registry_frontend_access": ["registry_frontend_access_rules", "registry_frontend_access_catalog",
                                        "registry_frontend_access_groups"]}


def rendered_variables(template):
    environment = jinja2.Environment()
    environment.filters["regex_replace"] = lambda *args: ""
    for name in ["regex_escape", "urlsplit", "dockyard.registry.mirror_location"]:
        environment.filters[name] = lambda *args: ""
    return jinja2.meta.find_undeclared_variables(environment.parse((ROOT / template).read_text()))


def rendered_grammars(template):
    """{variable or variable.field: grammar} of what the template renders."""
    role, loops, _ = TEMPLATES[template]
    checked = grammars(role)
    text = (ROOT / template).read_text()
    found = {}
    for variable in rendered_variables(template):
        if variable in loops:
            fields = checked.get(loops[variable], {})
            for field in set(re.findall(rf"{variable}\.(\w+)", text)):
                found[f"{loops[variable]}.{field}"] = fields.get(field)
        else:
            for source in DERIVED.get(variable, [variable]):
                grammar = checked.get(source)
                if isinstance(grammar, dict):  # a list of records: each field's grammar
                    found.update({f"{source}.{field}": grammar[field] for field in grammar})
                else:
                    found[source if source != variable else variable] = grammar
    return found


def grammars(role):
    """{variable: grammar} the role checks ({field: grammar} for a list of records), as tools/docs.py reads them:
    from the argument spec, and the values its validate.yml computes from options."""
    checked = {}
    for what, field, grammar in docs.checked_values(role):
        if field:
            checked.setdefault(what, {})[field] = grammar
        else:
            checked[what] = grammar
    return checked


# Values a template only decides on, never renders (choices of the argument spec).
UNRENDERED = {"registry_client_upstream_mirrors.ca_file", "registry_frontend_auth"}


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_rendered_variable_is_checked_by_a_grammar(template):
    for variable, grammar in rendered_grammars(template).items():
        assert grammar or variable in UNRENDERED, f"{template} renders {variable}, which no grammar checks"


def used_grammars():
    return sorted({(template, grammar) for template in TEMPLATES
                   for grammar in rendered_grammars(template).values() if grammar})


@pytest.mark.parametrize("template, grammar", used_grammars())
def test_no_grammar_of_a_rendered_value_lets_a_breakout_through(template, grammar):
    check = filters.GRAMMARS[grammar][0]
    for valid_start in ["registry.example.com", "https://registry.example.com", "/etc/dockyard/x", "10.0.0.0/8",
                        "ops@example.com", "443", "kid-1", "AAAAAAAAAAAAAAAAAAAA"]:
        for breakout in TEMPLATES[template][2]:
            value = valid_start + breakout[1:]
            assert not check(value), f"grammar {grammar} accepts {value!r}"


def test_grammars_accept_what_real_deployments_use():
    accepted = {
        "host": ["registry.example.com", "registry-v2", "10.0.0.5", "2001:db8::1"],
        "host_port": ["registry.example.com:5000", "registry-v3:443", "[2001:db8::1]:443", "docker.io", "127.0.0.1:5443"],
        "https_root_url": ["https://mirror.example.com", "https://mirror:8443/", "https://[2001:db8::1]:443"],
        "https_url": ["https://acme-v02.api.letsencrypt.org/directory", "https://pebble:14000/dir"],
        "cidr": ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"],
        "host_dir": ["/var/lib/registry", "/etc/dockyard/tls/registry", "/srv/registry"],
        "instance_name": ["registry", "dockerhub", "ghcr", "registry_2.x"],
        "email": ["ops@example.com"],
        "image": ["registry:2", "dockyard-test/registry:3", "mirror.local:5000/registry:2.8.3", "busybox:latest"],
        "user_name": ["ci", "team-a.ci", "bot@example.com"],
        "password": ["ci-password-1", "pass word with spaces", "x" * 72],
        "duration": ["168h", "90m", "1h30m"],
        "calendar": ["daily", "Sun *-*-* 03:00", "Mon..Fri 02:30", "*-*-01 04:00:00", "weekly"],
        "repository_pattern": ["*", "ci/*", "team-?/app", "library/[a-m]*", "a/b/c"],
        "age": ["30d", "12h", "1w"],
        "disk_size": ["512m", "10g", "2G", "1048576"],
        "seconds": [0, 30, "30", 3600],
        "regex": ["latest", "v[0-9].*", "release-(stable|lts)", "^main-[a-f0-9]{7}$"],
    }
    for grammar, values in accepted.items():
        for value in values:
            assert filters.GRAMMARS[grammar][0](value), f"grammar {grammar} refuses {value!r}"


def test_a_replaced_replica_rests_as_long_as_the_front_end_skips_it():
    vhost = (ROOT / "roles/registry_frontend/templates/vhost.conf.j2").read_text()
    registry_vars = yaml.safe_load((ROOT / "roles/registry/vars/main.yml").read_text())
    assert re.findall(r"fail_timeout=(\d+)s", vhost) == [str(registry_vars["registry_replica_rest_seconds"])]


@pytest.mark.parametrize("spec", sorted(ROOT.glob("roles/*/meta/argument_specs.yml")), ids=lambda path: path.parts[-3])
def test_each_argument_spec_follows_ansible_lints_schema_with_the_grammar_keys_added(spec):
    """ansible-lint's own schema of argument specs, which .ansible-lint cannot apply to these files: an option may
    also name a grammar of filter_plugins/dockyard.py, and a field of a list of records be declared unique."""
    schema = json.loads((Path(ansiblelint.__file__).parent / "schemas" / "role-arg-spec.json").read_text())
    schema["$defs"]["option"]["properties"].update(grammar={"enum": sorted(filters.GRAMMARS)},
                                                   unique={"type": "boolean"})
    jsonschema.validate(yaml.safe_load(spec.read_text()), schema)
