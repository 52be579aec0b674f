# A pull-through cache for a fleet that already runs Docker, from the
# project's directory.
cp -r inventory.example inventory
# Write your mirror host and your fleet's hosts in inventory/hosts.yml, and
# the clients' settings in inventory/group_vars/docker_clients/main.yml (both
# shown below). Nothing of the mirror needs a secret.
# The mirror first: every host's checks, then Docker Engine and the caches on
# the mirror host.
ansible-playbook -i inventory site.yml --limit mirrors
# Then the fleet, a batch at a time: one canary host, then half the fleet at
# a time. Each host gets Docker Engine's keys (no running container stopped)
# and the mirror, checked with a pull of the canary image.
ansible-playbook -i inventory playbooks/clients.yml -e '{"registry_client_batches": [1, "50%"]}'
