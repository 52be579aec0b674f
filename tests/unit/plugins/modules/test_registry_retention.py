"""The retention policy's decisions, on repositories described as the module reads them."""

import datetime
import re

import pytest
from cryptography.hazmat.primitives import serialization

from ansible_collections.dockyard.registry.plugins.filter import access
from ansible_collections.dockyard.registry.plugins.modules import registry_retention as retention

NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)


def day(n):
    return NOW - datetime.timedelta(days=n)


def image(created, *blobs):
    return {"size": 500, "children": [], "created": created, "blobs": dict.fromkeys(blobs, 1000)}


def repository():
    """ci/app: builds 1-4 (one per day, build-3 and latest one digest), a release,
    and a two-platform index whose amd64 child shares a layer with build-1."""
    manifests = {
        "d1": image(day(40), "cfg1", "base", "l1"),
        "d2": image(day(30), "cfg2", "base", "l2"),
        "d3": image(day(20), "cfg3", "base", "l3"),
        "d4": image(day(1), "cfg4", "base", "l4"),
        "drel": image(day(90), "cfgrel", "base", "lrel"),
        "amd64": image(day(50), "cfga", "l1"),
        "arm64": image(day(50), "cfgb", "lb"),
    }
    manifests["idx"] = {"size": 300, "children": ["amd64", "arm64"], "created": day(50), "blobs": {}}
    tags = {"build-1": "d1", "build-2": "d2", "build-3": "d3", "latest": "d3", "build-4": "d4",
            "v1.0": "drel", "multi": "idx"}
    return {"ci/app": {"tags": tags, "manifests": manifests},
            "other": {"tags": {"old": "o1"}, "manifests": {"o1": image(day(400), "cfgo", "base", "lo")}}}


RULE = {"repositories": "ci/*", "keep_last": 2, "keep_tags": ["v[0-9].*"], "older_than": ""}


def test_newest_and_matching_tags_stay_and_unmatched_repositories_are_untouched():
    report = retention.plan(repository(), [RULE], NOW, delete_tags=True)[0]
    assert [r["name"] for r in report] == ["ci/app"]
    # build-4 and build-3/latest are the newest (latest shares build-3's date), v1.0 matches.
    assert report[0]["keep"] == ["build-4", "latest", "v1.0"]
    assert [d["tag"] for d in report[0]["delete"]] == ["build-1", "build-2", "build-3", "multi"]


def test_tag_deletes_free_what_no_kept_manifest_shares():
    report, freed = retention.plan(repository(), [RULE], NOW, delete_tags=True)
    # d3 stays tagged as latest; d1, d2 and the index with both children go.
    assert report[0]["delete_digests"] == ["d1", "d2", "idx"]
    blobs = {"cfg1", "l1", "cfg2", "l2", "cfga", "cfgb", "lb"}  # base is kept; l1 goes with amd64 too
    assert freed == 1000 * len(blobs) + 500 * 4 + 300


def test_digest_deletes_spare_a_digest_a_kept_tag_shares():
    report, freed = retention.plan(repository(), [RULE], NOW, delete_tags=False)
    entry = report[0]
    # build-3 points at latest's digest: deleting it would take latest too.
    assert "build-3" in entry["keep"] and entry["references"] == ["d1", "d2", "idx"]
    # 2.x keeps an untagged index's children: only the index itself goes of it.
    assert freed == 1000 * len({"cfg1", "l1", "cfg2", "l2"}) + 500 * 2 + 300


def test_digest_deletes_spare_the_children_of_a_kept_index():
    repositories = repository()
    repositories["ci/app"]["tags"]["amd64-only"] = "amd64"
    rule = dict(RULE, keep_tags=["v[0-9].*", "multi"])
    report = retention.plan(repositories, [rule], NOW, delete_tags=False)[0]
    assert "amd64" not in report[0]["references"] and "amd64-only" in report[0]["keep"]


def test_keep_last_counts_the_tags_keep_tags_does_not_name():
    rule = dict(RULE, keep_tags=["latest", "build-4"], keep_last=1)
    report = retention.plan(repository(), [rule], NOW, delete_tags=True)[0]
    # latest and build-4 stay by name; the newest of the others is build-3.
    assert report[0]["keep"] == ["build-3", "build-4", "latest"]


def test_older_than_keeps_what_is_younger():
    rule = dict(RULE, keep_last=0, older_than="25d")
    report = retention.plan(repository(), [rule], NOW, delete_tags=True)[0]
    assert [d["tag"] for d in report[0]["delete"]] == ["build-1", "build-2", "multi"]


def test_first_matching_rule_governs():
    rules = [{"repositories": "ci/app", "keep_last": 10, "keep_tags": [], "older_than": ""}, RULE]
    report, freed = retention.plan(repository(), rules, NOW, delete_tags=True)
    assert report == [] and freed == 0


def test_immutable_tags_stay_whatever_the_rules_say_and_are_named():
    # The front end's rules, compiled as the role compiles them: the most specific governs ci/app.
    immutable = access.dockyard_immutable_compile([{"repository": "ci/*", "tags": ["build-*"], "except": ["build-2"]},
                                                   {"repository": "ci/app", "tags": ["multi"]}])["rules"]
    report = retention.plan(repository(), [RULE], NOW, delete_tags=True, immutable=immutable)[0]
    assert report[0]["immutable"] == ["multi"]
    assert [d["tag"] for d in report[0]["delete"]] == ["build-1", "build-2", "build-3"]
    immutable = access.dockyard_immutable_compile([{"repository": "ci/*", "tags": ["build-*"], "except": ["build-2"]}])
    report = retention.plan(repository(), [RULE], NOW, delete_tags=False, immutable=immutable["rules"])[0]
    # build-1 stays, and its digest with it; build-2 goes; build-3 shares latest's digest.
    assert report[0]["immutable"] == ["build-1", "build-3"]
    assert report[0]["references"] == ["d2", "idx"]


def digest(number):
    return "sha256:" + f"{number:x}" * 64


def referrer_tag(subject, suffix=""):
    return "sha256-" + subject.removeprefix("sha256:") + suffix


def signed():
    """ci/app: builds 1 to 3, a day apart; 1 and 3 signed (cosign's .sig) and with an SBOM in a referrers
    index (the OCI tag schema's); and the signature of an image that is gone (9)."""
    manifests = {digest(n): image(day(4 - n), f"cfg{n}", f"l{n}") for n in (1, 2, 3)}
    tags = {f"build-{n}": digest(n) for n in (1, 2, 3)}
    for n, signature, index, sbom in [(1, 10, 11, 12), (3, 13, 14, 15)]:
        manifests[digest(signature)] = image(retention.EPOCH, f"signature{n}")
        manifests[digest(sbom)] = image(retention.EPOCH, f"sbom{n}")
        manifests[digest(index)] = {"size": 200, "children": [digest(sbom)], "created": retention.EPOCH, "blobs": {}}
        tags.update({referrer_tag(digest(n), ".sig"): digest(signature), referrer_tag(digest(n)): digest(index)})
    manifests[digest(9) + "-signature"] = image(retention.EPOCH, "signature9")
    tags[referrer_tag(digest(9), ".sig")] = digest(9) + "-signature"
    return {"ci/app": {"tags": tags, "manifests": manifests, "missing": {digest(9)}}}


NEWEST = {"repositories": "ci/*", "keep_last": 1, "keep_tags": [], "older_than": ""}


def test_what_refers_to_an_image_stays_and_goes_with_it_and_orphans_go_where_a_rule_governs():
    report = retention.plan(signed(), [NEWEST], NOW, delete_tags=True)[0][0]
    going = {entry["tag"]: entry for entry in report["delete"]}
    orphan = referrer_tag(digest(9), ".sig")
    assert set(going) == {"build-1", "build-2", referrer_tag(digest(1), ".sig"), referrer_tag(digest(1)), orphan}
    assert going[referrer_tag(digest(1), ".sig")] == {"tag": referrer_tag(digest(1), ".sig"), "digest": digest(10),
                                                      "kind": "signature", "subject": digest(1)}
    assert going[referrer_tag(digest(1))]["kind"] == "referrers"
    assert report["keep"] == sorted(["build-3", referrer_tag(digest(3), ".sig"), referrer_tag(digest(3))])
    assert report["orphans"] == [orphan]
    # Where no rule governs, nothing goes, and the orphan is reported.
    report = retention.plan(signed(), [dict(NEWEST, repositories="other")], NOW, delete_tags=True)[0]
    assert report == [{"name": "ci/app", "rule": None, "delete": [], "delete_digests": [],
                       "keep": sorted(signed()["ci/app"]["tags"]), "immutable": [], "orphans": [orphan], "references": []}]


def test_on_2x_a_referrer_goes_by_its_own_digest_and_a_kept_images_stay():
    report, freed = retention.plan(signed(), [NEWEST], NOW, delete_tags=False)
    # The SBOM in the referrers index goes with it (2.x keeps the children of any other deleted index).
    assert report[0]["references"] == sorted([digest(1), digest(2), digest(10), digest(11), digest(12),
                                              digest(9) + "-signature"])
    assert freed == 1000 * len({"cfg1", "l1", "cfg2", "l2", "signature1", "sbom1", "signature9"}) + 500 * 5 + 200


@pytest.mark.parametrize("rule, message", [
    ({"keep_last": 0, "older_than": ""}, "sets neither keep_last nor older_than"),
    ({"older_than": "a month"}, "older_than 'a month' is not a number and a unit"),
    ({"keep_tags": ["v[0-9"]}, "keep_tags 'v[0-9' is not a regular expression"),
    ({"keep_last": -1}, "keep_last must be 0 or more"),
])
def test_rules_that_would_surprise_are_refused(rule, message):
    with pytest.raises(retention.RetentionError, match=re.escape(message)):
        retention.check_rules([dict(RULE, **rule)])


@pytest.mark.parametrize("value, expected", [
    ("2026-11-20T10:00:00.123456789Z", datetime.datetime(2026, 11, 20, 10, 0, 0, 123456, datetime.UTC)),
    ("2026-11-20T10:00:00+01:00", datetime.datetime(2026, 11, 20, 9, 0, 0, tzinfo=datetime.UTC)),
    (None, retention.EPOCH),
    ("yesterday", retention.EPOCH),
])
def test_created_dates_parse(value, expected):
    assert retention.parse_created(value) == expected


def test_tokens_it_signs_grant_one_repository_or_the_catalog_and_verify_with_the_certificate(tmp_path, key_pair,
                                                                                             token_claims):
    """For a registry that takes tokens: signed with the token server's key, the certificate in x5c."""
    certificate = key_pair[1]
    (tmp_path / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM) * 2)
    signer = retention.TokenSigner(str(tmp_path / "signing.key"), str(tmp_path / "fullchain.pem"), "registry")

    def repository(name):
        return {"type": "repository", "name": name, "actions": ["pull", "delete"]}

    for path, granted in [("/v2/_catalog?n=1000", {"type": "registry", "name": "catalog", "actions": ["*"]}),
                          ("/v2/ci/tools/app/manifests/sha256:ab", repository("ci/tools/app")),
                          ("/v2/ci/app/tags/list?n=1000", repository("ci/app"))]:
        scheme, token = signer.authorization(path).split(" ")
        claims = token_claims(token, certificate)
        assert scheme == "Bearer"
        assert (claims["iss"], claims["aud"], claims["access"]) == ("registry", "registry", [granted])
        assert 0 < claims["exp"] - claims["iat"] <= 60


def test_an_unreadable_signing_key_is_named(tmp_path):
    with pytest.raises(retention.RetentionError, match="cannot read the token signing key or certificate"):
        retention.TokenSigner(str(tmp_path / "missing.pem"), str(tmp_path / "missing.crt"), "registry")
