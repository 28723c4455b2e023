package localcluster

import "syscall"

// procAttr puts a child in its own process group (a Ctrl-C to the parent does not reach it
// behind the parent's back) and kills it if the parent dies, so no replica outlives a run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
