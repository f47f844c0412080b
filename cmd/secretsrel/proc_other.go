//go:build !linux

package main

import "syscall"

// childAttr is empty where there is no parent-death signal: the deferred
// kills of secretsrel are all there is.
func childAttr() *syscall.SysProcAttr { return nil }
