"""dockyard.registry.mirror_location: a mirror's URL as containers-registries.conf names its location."""

import pytest

from ansible_collections.dockyard.registry.plugins.filter import dockyard as filters


@pytest.mark.parametrize("url, location", [
    ("https://mirror.example.com", "mirror.example.com"),
    ("https://mirror.example.com:8443/", "mirror.example.com:8443"),
    ("https://mirror.example.com/ghcr.io", "mirror.example.com/ghcr.io"),
    # A bare name would read as a Docker Hub repository: its port is written out.
    ("https://mirror", "mirror:443"),
    ("https://mirror/ghcr.io/", "mirror:443/ghcr.io"),
    ("https://mirror:5000", "mirror:5000"),
    ("https://localhost/docker.io", "localhost/docker.io"),
    ("https://[2001:db8::1]:443", "[2001:db8::1]:443"),
])
def test_a_location_names_the_mirror_host_as_image_references_read_it(url, location):
    assert filters.dockyard_mirror_location(url) == location
