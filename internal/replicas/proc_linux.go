package replicas

import "syscall"

// sysProcAttr makes the kernel kill a replica when the process that started
// it dies, so a test that crashes leaves no secretsd running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
