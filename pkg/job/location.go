package job

import (
	"sync"
	"time"
)

// locations holds the time zones loaded so far, by name. time.LoadLocation reads and parses
// the zone's file on every call and returns a new Location of a few KB (transitions, names):
// at 100 000 jobs in Europe/Berlin that would be a copy per job in every replica's cache.
// Only zones that loaded are kept, so the map is bounded by the IANA database.
var locations sync.Map // string → *time.Location

// LoadLocation is time.LoadLocation, loading each zone once per process.
func LoadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	actual, _ := locations.LoadOrStore(name, l)
	return actual.(*time.Location), nil
}
