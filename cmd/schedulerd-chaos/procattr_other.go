//go:build !linux

package main

import "syscall"

// procAttr puts a child in its own process group; without Linux's parent-death signal,
// children of a killed harness must be cleaned up by hand.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
