//go:build !linux

package replicas

import "syscall"

// sysProcAttr has nothing to add outside Linux, which alone offers
// Pdeathsig: a crashed parent leaves its replicas to Close or the OS.
func sysProcAttr() *syscall.SysProcAttr { return nil }
