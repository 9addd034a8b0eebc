// CoreDNS with only the plugins the testbed's Corefile uses
// (testbed/manifests/system/10-coredns.yaml). The upstream main package links
// every plugin, including the AWS, Azure, GCP and DataDog SDKs, which cost
// minutes of compile time on a cold build.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// directives are the plugins above, in the order of CoreDNS's plugin.cfg
// (core/dnsserver/zdirectives.go): a plugin's place there sets its place in
// the request chain, not its place in the Corefile.
var directives = []string{
	"reload",
	"ready",
	"health",
	"errors",
	"loadbalance",
	"cache",
	"kubernetes",
	"loop",
}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
