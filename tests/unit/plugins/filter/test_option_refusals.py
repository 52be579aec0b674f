"""dockyard.registry.option_refusals: each option checked against the grammar its argument spec declares."""

import pytest

from ansible_collections.dockyard.registry.plugins.filter import dockyard as filters

PORT = "is not valid: give a port number from 1 to 65535."
USER = ("is not valid: give 1 to 64 letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit "
        "(no ':', spaces or line breaks).")
SPEC = {
    "port": {"type": "int", "grammar": "port", "default": 5000},
    "remote": {"type": "str", "grammar": "root_url", "default": ""},
    "archive": {"type": "str", "grammar": "file_name", "default": ""},
    "allow": {"type": "list", "elements": "str", "grammar": "cidr", "default": []},
    "insecure": {"type": "list", "elements": "str", "grammar": "cidr", "default": None},
    "groups": {"type": "dict", "grammar": "user_name", "default": {}},
    "users": {"type": "list", "elements": "dict", "default": [], "options": {
        "name": {"type": "str", "grammar": "user_name", "unique": True, "required": True},
        "password": {"type": "str", "grammar": "password", "no_log": True, "required": True},
        "ttl": {"type": "str", "grammar": "duration"}}},
    "rules": {"type": "list", "elements": "dict", "default": [], "options": {
        "keep_last": {"type": "int", "grammar": "count", "default": 0},
        "older_than": {"type": "str", "grammar": "age", "default": ""}}},
    "free": {"type": "str", "default": "x y"},
}
VALID = {"port": 5000, "remote": "", "archive": "/srv/images/registry-2.tar", "allow": ["10.0.0.0/8"],
         "insecure": None, "groups": {"team-a": ["alice"]}, "users": [{"name": "ci", "password": "pw"}],
         "rules": [{"keep_last": 3, "older_than": "30d"}], "free": "any text"}


def refusals(**changed):
    values = dict(VALID, **changed)
    return filters.dockyard_option_refusals(SPEC, [values[name] for name in SPEC])


def test_values_inside_their_grammar_pass():
    assert refusals() == []


@pytest.mark.parametrize("changed, sentence", [
    ({"port": 0}, f"port 0 {PORT}"),
    ({"port": None}, f"port null {PORT}"),
    ({"remote": "https://bot:pw@hub.example.com"}, 'remote "https://***@hub.example.com" is not valid'),
    ({"archive": "/srv/images/registry 2.tar"}, 'archive "registry 2.tar" is not valid: give a plain file name'),
    ({"allow": ["10.0.0.0/8", "anywhere"]}, 'allow[1] "anywhere" is not valid'),
    ({"allow": "10.0.0.0/8"}, 'allow must be a list, not "10.0.0.0/8".'),
    ({"insecure": ["a b"]}, 'insecure[0] "a b" is not valid'),
    ({"groups": {"team a": ["alice"]}}, f'groups names[0] "team a" {USER}'),
    ({"groups": {"team-a": ["alice", "b:ob"]}}, f'groups members[1] "b:ob" {USER}'),
    ({"groups": "team-a=alice"}, 'groups must be a mapping, not "team-a=alice".'),
    ({"users": [{"name": "ci", "password": "pw"}, {"name": "ci", "password": "pw2"}]},
     'users[1] repeats name "ci" of users[0]: each must be listed once.'),
    ({"users": [{"name": "a:b", "password": "pw"}]}, f'users[0].name "a:b" {USER}'),
    ({"users": [{"name": "ci", "password": "pw", "ttl": "a week"}]}, 'users[0].ttl "a week" is not valid'),
    ({"users": [{"name": "ci", "password": ""}]}, "users[0].password is not valid: give 1 to 72 bytes"),
    ({"users": ["ci"]}, "users[0] must be a mapping."),
    ({"users": "ci"}, 'users must be a list of mappings, not "ci".'),
])
def test_values_outside_their_grammar_are_refused_by_name(changed, sentence):
    found = refusals(**changed)
    assert len(found) == 1 and found[0].startswith(sentence), found


def test_an_empty_value_passes_only_where_the_default_is_empty():
    assert refusals(remote="", insecure=None) == []
    assert refusals(port="") == [f'port "" {PORT}']
    assert refusals(insecure="") == ['insecure must be a list, not "".']


def test_a_secret_is_never_shown():
    found = refusals(users=[{"name": "ci", "password": "Planted\nSecret"}])
    assert found and "Planted" not in " ".join(found)


def test_an_absent_field_passes_for_the_argument_spec_says_what_is_required():
    assert refusals(users=[{"name": "ci"}]) == []


def test_a_null_field_passes_where_it_has_no_default_or_an_empty_one():
    assert refusals(users=[{"name": "ci", "password": "pw", "ttl": None}], rules=[{"older_than": None}]) == []
    assert refusals(rules=[{"keep_last": None}]) == [
        "rules[0].keep_last null is not valid: give a whole number, 0 or more."]
