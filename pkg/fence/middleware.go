package fence

import (
	"context"
	"errors"
	"net/http"

	"github.com/schedulerd/schedulerd/internal/httpx"

	"github.com/schedulerd/schedulerd/pkg/problem"
)

type ctxKey struct{}

// FromContext returns the dispatch that Middleware admitted for the request.
func FromContext(ctx context.Context) (Dispatch, bool) {
	d, ok := ctx.Value(ctxKey{}).(Dispatch)
	return d, ok
}

// Middleware admits a request to next only if v accepts its dispatch headers:
//   - no or malformed dispatch headers → 400 (problem type fence-no-dispatch);
//   - a token older than one seen for the job → 409 (fence-stale-token);
//   - a run id already accepted → 409 (fence-duplicate-run).
//
// When next answers 5xx or 429 the run id is released, so schedulerd's retry of the same run is
// admitted; any other answer keeps it, so a duplicate delivery never reaches next twice.
func Middleware(v *Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := ParseDispatch(r)
		if err != nil {
			problem.Write(w, r, problem.New(http.StatusBadRequest, "fence-no-dispatch", "Not a schedulerd dispatch", err.Error()))
			return
		}
		if err := v.Accept(d); err != nil {
			kind, title := "fence-duplicate-run", "Run already accepted"
			if errors.Is(err, ErrStaleToken) {
				kind, title = "fence-stale-token", "Stale fencing token"
			}
			problem.Write(w, r, problem.New(http.StatusConflict, kind, title, err.Error()))
			return
		}
		sw := httpx.NewStatusWriter(w)
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, d)))
		if sw.Status >= 500 || sw.Status == http.StatusTooManyRequests {
			v.Release(d)
		}
	})
}
