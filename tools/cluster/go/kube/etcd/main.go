// Command etcd runs the etcd server that k8s.io/apiserver itself depends on, so the
// local control plane uses the same etcd version as the apiserver's dependency graph.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
