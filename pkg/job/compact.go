package job

import (
	"net/http"
	"slices"
	"unique"

	"github.com/schedulerd/schedulerd/pkg/schedule"
)

// Compact returns s with its enumerated strings (time zone, method, policies) pointing at
// shared copies. Decoding JSON allocates each of them anew; a replica's cache holds every
// job's spec, and these came to about a sixth of a cached job's memory. The schedule and the
// target URL, which jobs made from a template have in common, are interned (unique.Make):
// jobs decoded while an equal one is in use share its bytes. The default retry kinds are one
// slice for every job: a cached spec is never written to, and an append copies it.
func (s Spec) Compact() Spec {
	if _, err := LoadLocation(s.Timezone); err == nil {
		s.Timezone = zoneName(s.Timezone)
	}
	s.DST.Gap = shared(s.DST.Gap, schedule.GapShift, schedule.GapSkip)
	s.DST.Overlap = shared(s.DST.Overlap, schedule.OverlapFirst, schedule.OverlapBoth)
	s.Delivery = shared(s.Delivery, AtMostOnce, AtLeastOnce)
	s.Concurrency = shared(s.Concurrency, ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace)
	s.Misfire.CatchUp = shared(s.Misfire.CatchUp, CatchUpLatest, CatchUpAll, CatchUpNone)
	s.Schedule = unique.Make(s.Schedule).Value()
	switch {
	case slices.Equal(s.Retry.On, RetryOnAll):
		s.Retry.On = retryOnAll
	case len(s.Retry.On) > 0:
		on := make([]RetryOn, len(s.Retry.On)) // a copy: the decoded slice may be someone's
		for i, r := range s.Retry.On {
			on[i] = shared(r, RetryOnAll...)
		}
		s.Retry.On = on
	}
	if h := s.Target.HTTP; h != nil {
		c := *h
		c.URL = unique.Make(c.URL).Value()
		c.Method = shared(c.Method, http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions)
		c.Completion = shared(c.Completion, CompletionSync, CompletionCallback)
		s.Target.HTTP = &c
	}
	return s
}

// shared returns the one of known that equals v, or v.
func shared[T ~string](v T, known ...T) T {
	if i := slices.Index(known, v); i >= 0 {
		return known[i]
	}
	return v
}

// retryOnAll is RetryOnAll for cached specs to share; its capacity is its length, so an append
// to one spec's copy allocates instead of writing into the others'.
var retryOnAll = slices.Clip(slices.Clone(RetryOnAll))
