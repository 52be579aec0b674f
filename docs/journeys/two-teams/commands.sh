# Two teams on the registry above, from the project's directory: each team
# pushes its own repositories, the CI user pulls them all, and the admins
# alone list the catalog.
# Write the teams' users, groups and rules in
# inventory/group_vars/registries/teams.yml and their passwords in
# inventory/group_vars/registries/vault.yml (both shown below).
# Encrypt the new vault under the same vault password, then run.
ansible-vault encrypt --ask-vault-pass inventory/group_vars/registries/vault.yml
ansible-playbook -i inventory site.yml --ask-vault-pass
