# The registry host's disk was lost. Deploy the host again (a new one under
# the same name, or the old one with a new disk), copy the archive and its
# .sha256 back into registry_backup_dir there, then put the newest archive's
# images into the empty data directory.
ansible-playbook -i inventory site.yml --limit registry.replace-me.invalid --ask-vault-pass
ansible-playbook -i inventory playbooks/restore.yml --limit registry.replace-me.invalid -e registry_restore_archive=newest --ask-vault-pass
