package main

import "syscall"

// childAttr makes the kernel kill secretsd when secretsrel dies, so that not
// even a SIGKILL of secretsrel leaves a server behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
