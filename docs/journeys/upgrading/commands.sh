# The registry above upgraded from distribution 2.x to 3.x, from the project's
# directory: write inventory/group_vars/registries/upgrade.yml (shown below),
# take a backup (there is no way back but a restore), then deploy.
ansible-playbook -i inventory playbooks/backup.yml --ask-vault-pass
ansible-playbook -i inventory site.yml --ask-vault-pass
