package fence_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/schedulerd/schedulerd/pkg/fence"
)

// A target service guards its endpoint with the fence middleware. Here a deposed leader's late
// request (token 7 after token 9 was seen) and a second delivery of a run are both refused
// before they reach the handler.
func Example_target() {
	verifier := fence.NewVerifier(0)
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := fence.FromContext(r.Context())
		// Do the work once per run id. A target that must survive its own restarts keeps
		// the run id (and the highest token) in its database, in the work's transaction.
		fmt.Printf("working on %s (token %s, attempt %d)\n", d.RunID, d.Token, d.Attempt)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(fence.Middleware(verifier, hook))
	defer srv.Close()

	send := func(run string, token fence.Token) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
		fence.Dispatch{Job: "report", RunID: run, Scheduled: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Token: token, Attempt: 1}.Set(req.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		fmt.Println(run, "token", token, "→", resp.StatusCode)
	}
	send("report@2026-03-01T10:00:00Z", 9)
	send("report@2026-03-01T10:00:00Z", 9) // duplicate delivery
	send("report@2026-03-01T10:01:00Z", 7) // a deposed leader wakes up
	send("report@2026-03-01T10:01:00Z", 9)
	// Output:
	// working on report@2026-03-01T10:00:00Z (token 9, attempt 1)
	// report@2026-03-01T10:00:00Z token 9 → 204
	// report@2026-03-01T10:00:00Z token 9 → 409
	// report@2026-03-01T10:01:00Z token 7 → 409
	// working on report@2026-03-01T10:01:00Z (token 9, attempt 1)
	// report@2026-03-01T10:01:00Z token 9 → 204
}
