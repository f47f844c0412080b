package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/connect-secrets/secrets/internal/replicas"
)

// cpuSample is CPU time used so far, in clock ticks (USER_HZ), from /proc:
// the machine's over all its cores, and the replicas' processes'.
type cpuSample struct {
	total, idle, replicas uint64
}

// cpuUse is the CPU a phase used, as shares of all cores' time.
type cpuUse struct {
	busy     float64 // the machine's, whatever ran
	secretsd float64 // the replicas'
}

func sampleCPU(rs []*replicas.Replica) cpuSample {
	var s cpuSample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		// cpu user nice system idle iowait irq softirq steal (guest time
		// is counted in user already)
		f := strings.Fields(line)
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			s.total += v
			if i == 4 || i == 5 {
				s.idle += v
			}
		}
	}
	for _, r := range rs {
		s.replicas += r.CPUTicks()
	}
	return s
}

func (a cpuSample) since(b cpuSample) cpuUse {
	d := float64(a.total - b.total)
	if d <= 0 {
		return cpuUse{}
	}
	return cpuUse{busy: 1 - float64(a.idle-b.idle)/d, secretsd: float64(a.replicas-b.replicas) / d}
}
