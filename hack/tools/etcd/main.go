// Command etcd is the etcd server at the version pinned in go.mod, built from the
// Go module proxy because Debian's etcd is too old for current API servers.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
