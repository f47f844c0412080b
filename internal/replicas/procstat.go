package replicas

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUTicks is the replica's user and system CPU time so far, in clock ticks
// (USER_HZ, 100 a second on Linux), from /proc; 0 where it cannot be read.
// Load scripts take it before and after a phase.
func (r *Replica) CPUTicks() uint64 { return ProcessTicks(r.PID()) }

// PeakRSS is the replica's high-water resident set size (VmHWM) in bytes;
// 0 where it cannot be read.
func (r *Replica) PeakRSS() int64 { return peakRSS(r.PID()) }

// ProcessPeakRSS is any process's high-water resident set size (VmHWM) in
// bytes; 0 where it cannot be read.
func ProcessPeakRSS(pid int) int64 { return peakRSS(pid) }

// ProcessTicks is a process's user and system CPU time (fields 14 and 15
// of /proc/<pid>/stat) in clock ticks; 0 if it cannot be read.
func ProcessTicks(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	k, _ := strconv.ParseUint(f[12], 10, 64)
	return u + k
}

func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
