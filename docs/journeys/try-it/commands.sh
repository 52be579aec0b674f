# Try it on this machine, from the project's directory: a registry in a
# sandbox host (make demo), then a push and a look at its catalog of your own.
make demo
cut -d: -f2- .demo/credentials | docker --config .demo/docker login -u demo --password-stdin 127.0.0.1:5443
docker tag dockyard-test/busybox 127.0.0.1:5443/team/busybox    # the sample image make demo loaded
docker --config .demo/docker push 127.0.0.1:5443/team/busybox
curl --cacert .demo/ca.crt -u "$(cat .demo/credentials)" https://127.0.0.1:5443/v2/_catalog
# The sandbox, .demo/, the certs.d entry and the registry's image tags go.
make demo-down
