# The collection in a project of your own, without a checkout of dockyard:
# install the tarball that make collection builds (dist/), with the
# collections it depends on (community.crypto, community.docker and
# community.general, which the ansible package already holds).
ansible-galaxy collection install dockyard-registry-1.0.0.tar.gz
# Deploy every host of your inventory, as site.yml does from a checkout.
ansible-playbook -i inventory dockyard.registry.site
# Or call the roles from a playbook of your own (registry.yml, below).
ansible-playbook -i inventory registry.yml
