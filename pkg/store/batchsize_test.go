package store

import "testing"

// TestBatchSize: a ClaimMany batch is sized for exactly the claims that will fit in it, so
// its slices are neither grown nor allocated at MaxTxnOps for a few jobs.
func TestBatchSize(t *testing.T) {
	dispatch := JobClaim{Runs: []Run{{State: StateRunning}}}                       // 2 compares, 3 puts
	skipped := JobClaim{Runs: []Run{{State: StateSkipped}, {State: StateSkipped}}} // 3, 3
	claims := func(c JobClaim, n int) []JobClaim {
		out := make([]JobClaim, n)
		for i := range out {
			out[i] = c
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		claims     []JobClaim
		cmps, puts int
	}{
		{"one job", claims(dispatch, 1), 3, 3},
		{"ten jobs", claims(dispatch, 10), 21, 30},
		{"a full batch: 42 of 100 jobs", claims(dispatch, 100), 85, 126},
		{"refused claims are not counted", append([]JobClaim{{}}, claims(dispatch, 2)...), 5, 6},
		{"skipped runs: 42 jobs by compares", claims(skipped, 50), 127, 126},
	} {
		cmps, puts := batchSize(tc.claims)
		if cmps != tc.cmps || puts != tc.puts {
			t.Errorf("%s: batchSize = %d compares, %d puts; want %d, %d", tc.name, cmps, puts, tc.cmps, tc.puts)
		}
	}
}
