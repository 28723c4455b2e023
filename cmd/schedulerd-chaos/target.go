package main

import (
	"errors"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/pkg/history"
)

// targetHandler is what the jobs call: /ok answers 204, /slow 204 after 1.5 s, /fail 500.
func targetHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(1500 * time.Millisecond):
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	return mux
}

// newTargetCommand runs the recording target on its own, for a test against a real cluster.
func newTargetCommand() *cobra.Command {
	var listen, logPath string
	cmd := &cobra.Command{
		Use:   "target --listen ADDR --log FILE",
		Short: "Run the recording target (fence-guarded; /ok, /slow, /fail) and log every request",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			rec := history.NewRecorder(f, targetHandler(), nil)
			srv := &http.Server{Addr: listen, Handler: rec, ReadHeaderTimeout: 5 * time.Second}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			defer wg.Wait()
			defer close(stop)
			wg.Add(1)
			go func() { // ends with the command: a signal, or ListenAndServe failing
				defer wg.Done()
				select {
				case <-cmd.Context().Done():
					_ = srv.Close()
				case <-stop:
				}
			}()
			// Flush often so a log copied out of a running pod is nearly complete.
			wg.Add(1)
			go func() {
				defer wg.Done()
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for {
					select {
					case <-t.C:
						_ = rec.Flush()
					case <-stop:
						return
					}
				}
			}()
			err = srv.ListenAndServe()
			if ferr := rec.Flush(); ferr != nil {
				return ferr
			}
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9000", "address to listen on (in a pod: :9000)")
	cmd.Flags().StringVar(&logPath, "log", "target.jsonl", "where the request log goes (appended)")
	return cmd
}
