# Back up the registry above, from the project's directory: read-only for the
# while, its images archived into registry_backup_dir on its host, with the
# archive's checksum beside it. Copy both files away, or mount a backup disk
# there.
ansible-playbook -i inventory playbooks/backup.yml --ask-vault-pass
