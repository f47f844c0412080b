package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of d by the
// nearest-rank method: the smallest sample that at least p% of the samples
// are less than or equal to. With 20 samples p99 is the slowest one, which is
// what a tail check of a few samples should look at. Zero for no samples.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
