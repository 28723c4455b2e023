package main

import (
	"github.com/schedulerd/schedulerd/internal/localcluster"
	"github.com/schedulerd/schedulerd/internal/netproxy"
)

// replica is one schedulerd process with its proxies, one per etcd member.
type replica struct {
	*localcluster.Proc
	id      string
	api     string
	proxies []*netproxy.Proxy
}

func (r *replica) cut() {
	for _, p := range r.proxies {
		p.Cut()
	}
}

func (r *replica) heal() {
	for _, p := range r.proxies {
		p.Heal()
	}
}
