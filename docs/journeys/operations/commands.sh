# Day two on the registry above, from the project's directory: its metrics,
# and its storage kept in check (deletes enabled, a retention policy, the
# weekly collection of a single-host registry). Write them in
# inventory/group_vars/registries/metrics.yml and storage.yml (the guides
# docs/guides/metrics.md and docs/guides/storage.md show them), then deploy
# them.
ansible-playbook -i inventory site.yml --ask-vault-pass
# Report what the policy would delete, changing nothing; then collect what is
# unreferenced already (a report of the policy again); then delete what the
# policy lets go, and collect.
ansible-playbook -i inventory playbooks/gc.yml --check --ask-vault-pass
ansible-playbook -i inventory playbooks/gc.yml --ask-vault-pass
ansible-playbook -i inventory playbooks/gc.yml -e '{"registry_retention_apply": true}' --ask-vault-pass
