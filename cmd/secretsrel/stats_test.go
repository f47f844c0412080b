package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	twenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	for _, tc := range []struct {
		name string
		d    []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 99, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"p50 of 20 is the 10th", twenty, 50, 10 * time.Millisecond},
		{"p99 of 20 is the slowest", twenty, 99, 20 * time.Millisecond},
		{"p95 of 20 is the 19th", twenty, 95, 19 * time.Millisecond},
		{"p100", twenty, 100, 20 * time.Millisecond},
		{"tiny p is the fastest", twenty, 0.1, 1 * time.Millisecond},
		{"p99 of 200 leaves out the top 2", append(ms(make([]int, 198)...), ms(500, 900)...), 99, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.d, tc.p); got != tc.want {
				t.Errorf("percentile(%d samples, %v) = %v, want %v", len(tc.d), tc.p, got, tc.want)
			}
		})
	}
	// The input is not reordered: callers keep their samples in time order.
	if twenty[0] != 20*time.Millisecond {
		t.Errorf("percentile sorted its input")
	}
}
