// Command target is an example job target guarded by schedulerd's fence: it prints every run
// it accepts, and answers 409 to a deposed leader's late request or a second delivery of a run.
// A run of a job with completion "callback" is answered 202 at once and reported to
// schedulerd after --work.
//
//	go run ./examples/target --listen 127.0.0.1:9000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schedulerd/schedulerd/pkg/fence"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	status := flag.Int("status", http.StatusNoContent, "status code to answer accepted runs with")
	work := flag.Duration("work", 5*time.Second, "how long a callback run works before it reports its result")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var reports sync.WaitGroup // callback reports in progress; main waits for them
	defer reports.Wait()

	verifier := fence.NewVerifier(0)
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := fence.FromContext(r.Context())
		fmt.Printf("%s  run %s  token %s  attempt %d  late %s\n", time.Now().UTC().Format(time.RFC3339Nano),
			d.RunID, d.Token, d.Attempt, time.Since(d.Scheduled).Round(time.Millisecond))
		if d.CallbackURL != "" {
			reports.Add(1)
			go func() { defer reports.Done(); report(ctx, d, *work) }()
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.WriteHeader(*status)
	})
	mux := http.NewServeMux()
	mux.Handle("/", fence.Middleware(verifier, hook))
	srv := &http.Server{Addr: *listen, Handler: logRejections(mux), ReadHeaderTimeout: 5 * time.Second}

	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("target listening on http://%s", *listen)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// report works on a callback run for work, then posts its result to schedulerd.
func report(ctx context.Context, d fence.Dispatch, work time.Duration) {
	select {
	case <-time.After(work):
	case <-ctx.Done():
		return // shutting down: schedulerd times the run out
	}
	body := strings.NewReader(`{"result": "succeeded", "output": "worked ` + work.String() + `"}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.CallbackURL, body)
	if err != nil {
		log.Printf("run %s: %v", d.RunID, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(fence.HeaderCallbackToken, d.CallbackToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Printf("run %s: reporting the result: %v", d.RunID, err)
		return
	}
	resp.Body.Close()
	fmt.Printf("%s  run %s  reported: %s\n", time.Now().UTC().Format(time.RFC3339Nano), d.RunID, resp.Status)
}

// logRejections prints the requests the fence refused, with why.
func logRejections(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &rejection{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		if rw.status >= 400 {
			fmt.Printf("%s  REJECTED %d  run %s  token %s\n", time.Now().UTC().Format(time.RFC3339Nano), rw.status,
				r.Header.Get(fence.HeaderRunID), r.Header.Get(fence.HeaderToken))
		}
	})
}

type rejection struct {
	http.ResponseWriter
	status int
}

func (r *rejection) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
