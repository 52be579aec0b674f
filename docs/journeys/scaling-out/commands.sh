# Two registry hosts serving one name from an S3 bucket, with the redis they
# share, from the project's directory.
cp -r inventory.example inventory
# Write the registry hosts (each with its private address), the redis host
# and the Docker hosts in inventory/hosts.yml, the replicas' settings in
# inventory/group_vars/registries/replicas.yml, the redis host's in
# inventory/group_vars/redis_servers/main.yml, the Docker hosts' in
# inventory/group_vars/docker_clients/main.yml, and the secrets in
# inventory/group_vars/all/vault.yml (all shown below). Put the CA of the S3
# endpoint's certificate in inventory/files/s3-ca.crt.
# Encrypt the secrets, then run: every replica at once, in one run.
ansible-vault encrypt --ask-vault-pass inventory/group_vars/all/vault.yml
ansible-playbook -i inventory site.yml --ask-vault-pass
