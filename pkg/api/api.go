package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/internal/httpx"
	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/problem"
	"github.com/schedulerd/schedulerd/pkg/store"
	"github.com/schedulerd/schedulerd/pkg/targets"
)

// Leaders tells who leads now (election.Observer).
type Leaders interface {
	Leader() (election.Leader, bool)
}

// Config is what the API needs. Store, Cache, Leaders and Logger are required.
type Config struct {
	Store   *store.Store
	Cache   *store.Cache
	Leaders Leaders
	// Self is this replica as listed in /v1/cluster.
	Self election.Leader
	// Clock stamps created/updated times; the real clock when nil.
	Clock clockwork.Clock
	// StoreTimeout bounds the etcd work of one request (default 5s); when it runs out the
	// client gets 503 with Retry-After.
	StoreTimeout time.Duration
	Logger       *zap.Logger
	// Completed is told of each run whose result a callback target reported here (the
	// scheduler's Completed, which counts it); may be nil.
	Completed func(store.Run)
	// Registerer gets the API's metrics; Gatherer is served at /metrics. Either may be nil.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Tokens, when set, turns authentication on: every route but the public ones needs a
	// bearer token whose role allows it. Nil serves everyone (dev mode, loopback only).
	Tokens *auth.Tokens
	// Health, when set, is asked by /healthz: an error fails it (503), so that the replica is
	// restarted (election.Elector.Healthy: a leader stuck past its lease).
	Health func() error
	// UI, when set, serves the web page at / and /ui/.
	UI http.Handler
	// Targets is the replica's target policy (serve --allowed-target-hosts, --secrets-dir): a
	// job written here must call an allowed host and name secrets files under the secrets
	// directory. Nil: any host, secrets under targets.DefaultSecretsDir.
	Targets *targets.Policy
}

// API is the HTTP handler of one replica.
type API struct {
	cfg      Config
	mux      *http.ServeMux
	roles    map[string]auth.Role // by route pattern
	audits   *zap.Logger
	requests *prometheus.CounterVec
}

// New builds the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Cache == nil || cfg.Leaders == nil || cfg.Logger == nil {
		return nil, errors.New("api: Store, Cache, Leaders and Logger are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 5 * time.Second
	}
	cfg.Logger = cfg.Logger.Named("api")
	a := &API{
		cfg: cfg,
		mux: http.NewServeMux(),
		requests: promauto.With(cfg.Registerer).NewCounterVec(prometheus.CounterOpts{
			Name: "schedulerd_http_requests_total",
			Help: "HTTP API requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
	}
	a.audits = cfg.Logger.Named("audit")
	a.roles = map[string]auth.Role{}
	for _, rt := range a.routes() {
		a.mux.Handle(rt.pattern, rt.handler)
		a.roles[rt.pattern] = rt.role
	}
	return a, nil
}

// ServeHTTP routes r. Requests no route matches get a problem+json 404 or 405 rather than the
// mux's plain text, so clients parse one error shape everywhere.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	route := pattern
	sw := httpx.NewStatusWriter(w)
	if pattern == "" {
		route = "unmatched"
		// Ask the mux what it would answer (404, or 405 with Allow) and say it as a problem.
		rec := &httpx.Discard{}
		h.ServeHTTP(rec, r)
		p := problem.New(http.StatusNotFound, "not-found", "Not found", "no such route: "+r.Method+" "+r.URL.Path)
		if rec.Code == http.StatusMethodNotAllowed {
			sw.Header().Set("Allow", rec.Header().Get("Allow"))
			p = problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
				r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+rec.Header().Get("Allow"))
		}
		problem.Write(sw, r, p)
	} else if r, ok := a.authorize(sw, r, a.roles[pattern]); ok {
		a.mux.ServeHTTP(sw, r) // (not h: the mux sets the path values on the way)
	}
	a.requests.WithLabelValues(route, strconv.Itoa(sw.Status)).Inc()
}

func (a *API) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.cfg.Gatherer, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          zap.NewStdLog(a.cfg.Logger),
	})
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Health != nil {
		if err := a.cfg.Health(); err != nil {
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "unhealthy", "Unhealthy", err.Error()))
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz is ready once the job cache has its first full list: before that this replica could
// not take over leadership with a warm schedule.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	select {
	case <-a.cfg.Cache.Synced():
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	default:
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "not-ready", "Not ready", "the job cache has not synced with etcd yet"))
	}
}

// clusterView is the body of GET /v1/cluster.
type clusterView struct {
	// Leader is null when no replica leads.
	Leader  *election.Leader  `json:"leader"`
	Members []election.Leader `json:"members"`
	// Replica is the replica that answered.
	Replica election.Leader `json:"replica"`
}

func (a *API) cluster(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.StoreTimeout)
	defer cancel()
	members, err := election.Members(ctx, a.cfg.Store.Client(), a.cfg.Store.Keys().Members())
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	v := clusterView{Members: members, Replica: a.cfg.Self}
	if l, ok := a.cfg.Leaders.Leader(); ok {
		v.Leader = &l
	}
	writeJSON(w, http.StatusOK, v)
}
