package main

import "syscall"

// procAttr puts a child in its own process group (a Ctrl-C to the harness does not reach it
// behind the harness's back) and kills it if the harness dies, so no replica outlives a run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
