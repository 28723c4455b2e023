package tests

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the tests start (a replica's log reader, the job target's server) has ended
// when they do.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
