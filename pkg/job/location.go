package job

import (
	"sync"
	"time"
)

// locations holds the time zones loaded so far, by name. time.LoadLocation reads and parses
// the zone's file on every call and returns a new Location of a few KB (transitions, names):
// at 100 000 jobs in Europe/Berlin that would be a copy per job in every replica's cache.
// Only zones that loaded are kept, so the map is bounded by the IANA database.
var locations sync.Map // string → zone

// zone is a loaded time zone and its name, one string shared by every spec in the zone.
type zone struct {
	name string
	loc  *time.Location
}

// LoadLocation is time.LoadLocation, loading each zone once per process.
func LoadLocation(name string) (*time.Location, error) {
	if z, ok := locations.Load(name); ok {
		return z.(zone).loc, nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	actual, _ := locations.LoadOrStore(name, zone{name: name, loc: l})
	return actual.(zone).loc, nil
}

// zoneName returns the shared copy of a loaded zone's name (name itself if not loaded).
func zoneName(name string) string {
	if z, ok := locations.Load(name); ok {
		return z.(zone).name
	}
	return name
}
