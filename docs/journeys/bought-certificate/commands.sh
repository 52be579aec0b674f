# One registry with the certificate your CA issued, and the Docker hosts that
# push to it and pull from it, from the project's directory.
cp -r inventory.example inventory
# Write your registry host and Docker hosts in inventory/hosts.yml, the
# certificate's settings in inventory/group_vars/registries/certificate.yml,
# the hosts' in inventory/group_vars/docker_clients/main.yml, and the CI
# user's password in inventory/group_vars/all/vault.yml (the guide
# docs/guides/first-registry.md shows each file).
# Put the files your CA gave you in inventory/files/: registry.crt (the
# registry's certificate), intermediates.pem (the chain), registry.key (its
# private key) and registry-ca.crt (the root the Docker hosts trust).
# Encrypt the secrets, the vault and the key, under one vault password.
ansible-vault encrypt --ask-vault-pass inventory/group_vars/all/vault.yml inventory/files/registry.key
# See what would change, then change it.
ansible-playbook -i inventory site.yml --check --diff --ask-vault-pass
ansible-playbook -i inventory site.yml --ask-vault-pass
