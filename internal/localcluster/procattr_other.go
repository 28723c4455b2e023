//go:build !linux

package localcluster

import "syscall"

// procAttr puts a child in its own process group; without Linux's parent-death signal,
// children of a killed parent must be cleaned up by hand.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
