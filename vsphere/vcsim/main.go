// vcsim: VMware's vCenter simulator (govmomi's simulator library, Debian's golang-github-vmware-govmomi-dev)
// built offline into a small binary; vsphere/simulator.py builds and runs it for tests and benchmarks.
// It prints its URL on stdout once it listens and stops on SIGTERM/SIGINT.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address:port to listen on (loopback only)")
	user := flag.String("username", "user", "login user")
	pass := flag.String("password", "pass", "login password")
	dc := flag.Int("dc", 1, "datacenters")
	cluster := flag.Int("cluster", 1, "clusters per datacenter")
	hosts := flag.Int("host", 1, "standalone hosts per datacenter")
	pg := flag.Int("pg", 1, "distributed port groups per datacenter")
	vms := flag.Int("vm", 2, "VMs per resource pool")
	flag.Parse()

	model := simulator.VPX()
	model.Datacenter = *dc
	model.Cluster = *cluster
	model.Host = *hosts
	model.Portgroup = *pg
	model.Machine = *vms
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	server := model.Service.NewServer()
	fmt.Println(server.URL.String())
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	server.Close()
	model.Remove()
}
