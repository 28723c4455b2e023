// Package serve is the `serve` command: flags and environment, the wiring of one replica
// (embedded etcd, store, cache, election, scheduler, API) and its shutdown on a signal.
// The schedulerd binary and the chaos harness (which re-executes itself as replicas) share it.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	"github.com/schedulerd/schedulerd/internal/ui"
	"github.com/schedulerd/schedulerd/pkg/api"
	"github.com/schedulerd/schedulerd/pkg/auth"
	"github.com/schedulerd/schedulerd/pkg/election"
	"github.com/schedulerd/schedulerd/pkg/embedetcd"
	"github.com/schedulerd/schedulerd/pkg/scheduler"
	"github.com/schedulerd/schedulerd/pkg/store"
	"github.com/schedulerd/schedulerd/pkg/targets"
)

// envPrefix: every flag can also be set as SCHEDULERD_<FLAG>, e.g. SCHEDULERD_ETCD_ENDPOINTS.
const envPrefix = "SCHEDULERD_"

// Credentials for etcd come only from the environment, so they never show in `ps`.
const (
	envEtcdUsername = "SCHEDULERD_ETCD_USERNAME"
	envEtcdPassword = "SCHEDULERD_ETCD_PASSWORD"
)

// UsageError marks an error in the command line itself (exit code 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for an error a command returned: 2 for usage errors, else 1.
func ExitCode(err error) int {
	var ue UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

type serveOptions struct {
	etcdEndpoints      []string
	etcdCACert         string
	etcdCert           string
	etcdKey            string
	dataDir            string
	embeddedEtcdListen string
	listen             string
	advertiseURL       string
	prefix             string
	sessionTTL         time.Duration
	replicaID          string
	drainTimeout       time.Duration
	claimAhead         time.Duration
	logLevel           string
	logFormat          string
	authTokensFile     string
	insecureNoAuth     bool
	allowedTargetHosts []string
	secretsDir         string
	pprofListen        string
	// etcdPool is the etcd client's buffer pool; nil is etcdBufferPool (tests give their own).
	etcdPool mem.BufferPool
}

// Command returns the `serve` command.
func Command() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a schedulerd replica",
		Long: `Run a schedulerd replica: it serves the API, keeps a warm copy of every job, and campaigns
for leadership; the leader runs the schedule. Without --etcd-endpoints it starts an embedded
single-node etcd under --data-dir (development and trying it out).

Every flag can also be given as an environment variable: SCHEDULERD_<FLAG>, upper case with
'-' as '_' (SCHEDULERD_ETCD_ENDPOINTS). etcd credentials come only from the environment:
SCHEDULERD_ETCD_USERNAME and SCHEDULERD_ETCD_PASSWORD.

SIGINT or SIGTERM: resign leadership at once, drain in-flight runs, exit 0.`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd.Flags()); err != nil {
				return UsageError{err}
			}
			if err := o.validate(); err != nil {
				return UsageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.etcdEndpoints, "etcd-endpoints", nil, "etcd client URLs, comma-separated; empty: start an embedded single-node etcd")
	f.StringVar(&o.etcdCACert, "etcd-cacert", "", "CA bundle to verify the etcd servers (PEM file)")
	f.StringVar(&o.etcdCert, "etcd-cert", "", "client certificate for etcd (PEM file)")
	f.StringVar(&o.etcdKey, "etcd-key", "", "client key for etcd (PEM file)")
	f.StringVar(&o.dataDir, "data-dir", "./schedulerd-data", "data directory of the embedded etcd")
	f.StringVar(&o.embeddedEtcdListen, "embedded-etcd-listen", "http://127.0.0.1:2379", "client URL of the embedded etcd; other replicas join with --etcd-endpoints set to it")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the HTTP API, health checks and metrics")
	f.StringVar(&o.advertiseURL, "advertise-url", "", "URL other replicas, clients and callback targets reach this replica's API at (default: http://<listen address>, the host name for 0.0.0.0)")
	f.StringVar(&o.prefix, "prefix", "/schedulerd/", "etcd key prefix; replicas with the same prefix form one cluster")
	f.DurationVar(&o.sessionTTL, "session-ttl", 10*time.Second, "leader session TTL, whole seconds: a crashed leader is replaced within about this long")
	f.StringVar(&o.replicaID, "replica-id", "", "name of this replica (default: <hostname>-<pid>)")
	f.DurationVar(&o.drainTimeout, "drain-timeout", time.Second, "on shutdown, how long in-flight runs may finish before they are cancelled")
	f.DurationVar(&o.claimAhead, "claim-ahead", 100*time.Millisecond, "how long before its slot the leader claims a run in etcd, so the request leaves on time (0: at the slot; at most 5s)")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "json", "json or console")
	f.StringVar(&o.authTokensFile, "auth-tokens-file", "", "bearer tokens the API accepts, one `<sha256 of token> <viewer|operator|admin> <name>` per line; empty: no authentication (loopback only, unless --insecure-no-auth)")
	f.StringVar(&o.pprofListen, "pprof-listen", "", "address of a separate server for Go's pprof profiles (/debug/pprof/); empty: off. It has no authentication: keep it on loopback or a port only operators reach")
	f.BoolVar(&o.insecureNoAuth, "insecure-no-auth", false, "serve the API without authentication on a non-loopback --listen address (anyone who reaches it may change jobs)")
	f.StringSliceVar(&o.allowedTargetHosts, "allowed-target-hosts", nil, "hosts job targets may call, comma-separated globs matched against the URL's host name (*.internal,127.0.0.1,api.example.com); empty: any host. Link-local addresses (169.254.0.0/16, fe80::/10) are refused unless named here without wildcards")
	f.StringVar(&o.secretsDir, "secrets-dir", targets.DefaultSecretsDir, "directory that target headers' fromFile secrets must be under (where a Kubernetes Secret volume is mounted)")
	return cmd
}

// loopback reports whether host (of a listen address) is a loopback name or address only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// applyEnv sets every flag not given on the command line from SCHEDULERD_<FLAG>.
func applyEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	})
	return errors.Join(errs...)
}

func (o *serveOptions) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, e := range o.etcdEndpoints {
		u, err := url.Parse(e)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("--etcd-endpoints: %q is not an http(s) URL such as http://127.0.0.1:2379", e)
		case u.User != nil:
			// Said without echoing the endpoint: it holds a password.
			bad("--etcd-endpoints: credentials do not go in the URL; set %s and %s", envEtcdUsername, envEtcdPassword)
		}
	}
	if (o.etcdCert == "") != (o.etcdKey == "") {
		bad("--etcd-cert and --etcd-key go together")
	}
	if len(o.etcdEndpoints) == 0 {
		if u, err := url.Parse(o.embeddedEtcdListen); err != nil || u.Scheme != "http" || u.Host == "" {
			bad("--embedded-etcd-listen: %q is not an http URL such as http://127.0.0.1:2379", o.embeddedEtcdListen)
		}
		if o.dataDir == "" {
			bad("--data-dir must be set for the embedded etcd")
		}
	}
	if host, _, err := net.SplitHostPort(o.listen); err != nil {
		bad("--listen: %q is not host:port: %v", o.listen, err)
	} else if o.authTokensFile == "" && !o.insecureNoAuth && !loopback(host) {
		bad("--listen %s is not a loopback address, and there is no --auth-tokens-file: anyone who reaches it could change jobs; "+
			"give --auth-tokens-file (see docs/api.md#authentication), or --insecure-no-auth to accept that", o.listen)
	}
	if o.pprofListen != "" {
		if _, _, err := net.SplitHostPort(o.pprofListen); err != nil {
			bad("--pprof-listen: %q is not host:port: %v", o.pprofListen, err)
		}
	}
	if o.authTokensFile != "" && o.insecureNoAuth {
		bad("--auth-tokens-file and --insecure-no-auth contradict each other")
	}
	if o.advertiseURL != "" {
		if u, err := url.Parse(o.advertiseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("--advertise-url: %q is not an http(s) URL", o.advertiseURL)
		}
	}
	if !strings.HasPrefix(o.prefix, "/") || !strings.HasSuffix(o.prefix, "/") || strings.Contains(o.prefix, "//") {
		bad("--prefix: %q must start and end with '/', such as /schedulerd/", o.prefix)
	}
	if o.sessionTTL < time.Second || o.sessionTTL%time.Second != 0 {
		bad("--session-ttl: %s must be whole seconds, at least 1s", o.sessionTTL)
	}
	if o.drainTimeout < 0 {
		bad("--drain-timeout must not be negative")
	}
	if o.claimAhead < 0 || o.claimAhead > 5*time.Second {
		bad("--claim-ahead: %s must be between 0 and 5s", o.claimAhead)
	}
	if strings.ContainsAny(o.replicaID, "/\n") {
		bad("--replica-id: %q must not contain '/' or newlines", o.replicaID)
	}
	if _, err := zapcore.ParseLevel(o.logLevel); err != nil {
		bad("--log-level: %q is not one of debug, info, warn, error", o.logLevel)
	}
	if o.logFormat != "json" && o.logFormat != "console" {
		bad("--log-format: %q is not json or console", o.logFormat)
	}
	if _, err := o.targetPolicy(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// targetPolicy is what job targets may do on this replica: --allowed-target-hosts, --secrets-dir.
func (o *serveOptions) targetPolicy() (*targets.Policy, error) {
	return targets.New(targets.Config{AllowedHosts: o.allowedTargetHosts, SecretsDir: o.secretsDir})
}

func (o *serveOptions) logger() (*zap.Logger, error) {
	level, _ := zapcore.ParseLevel(o.logLevel)
	cfg := zap.NewProductionConfig()
	cfg.Encoding = o.logFormat
	cfg.Level = zap.NewAtomicLevelAt(level)
	// Every state change is logged once by design; sampling would drop the ones that matter.
	cfg.Sampling = nil
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.EncoderConfig.EncodeDuration = zapcore.StringDurationEncoder
	if o.logFormat == "console" {
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	}
	return cfg.Build()
}

func (o *serveOptions) run(ctx context.Context) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if o.replicaID == "" {
		host, _ := os.Hostname()
		o.replicaID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	log = log.With(zap.String("replica", o.replicaID))
	started := time.Now().UTC()
	var tokens *auth.Tokens
	if o.authTokensFile != "" {
		if tokens, err = auth.Load(o.authTokensFile); err != nil {
			return err
		}
		log.Info("API authentication on", zap.String("tokensFile", o.authTokensFile), zap.Int("tokens", tokens.Len()))
	} else if o.insecureNoAuth {
		log.Warn("API authentication off (--insecure-no-auth): anyone who reaches the API may change jobs", zap.String("listen", o.listen))
	}

	endpoints := o.etcdEndpoints
	var embedded *embedetcd.Server
	if len(endpoints) == 0 {
		embedded, err = embedetcd.Start(ctx, embedetcd.Config{Dir: o.dataDir, ClientURL: o.embeddedEtcdListen, Logger: log})
		if err != nil {
			return fmt.Errorf("%w (is another replica already running with an embedded etcd? start further replicas with --etcd-endpoints=%s)", err, o.embeddedEtcdListen)
		}
		// Closed after everything else: the resign at shutdown still needs it.
		defer func() {
			if !embedded.Close(400 * time.Millisecond) { // drain (1s) + result writes (0.5s) + this < 2s
				log.Info("embedded etcd still closing connections of other replicas; exiting anyway")
			}
		}()
		endpoints = []string{embedded.ClientURL()}
		abs, _ := filepath.Abs(o.dataDir)
		log.Info("embedded etcd started; other replicas can join with --etcd-endpoints", zap.String("etcd", embedded.ClientURL()), zap.String("dataDir", abs))
	}
	client, err := o.etcdClient(endpoints, log)
	if err != nil {
		return err
	}
	defer client.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	defer ln.Close()
	advertise := o.advertiseURL
	if advertise == "" {
		// A wildcard listen address (0.0.0.0, ::) is no address to publish: use the host name.
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		advertise = "http://" + net.JoinHostPort(host, port)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(reg)

	st := store.New(client, o.prefix, reg)
	cache := store.NewCache(st, log, nil, reg)
	observer := election.NewObserver(client, st.Keys().Election(), nil, log, reg)
	policy, err := o.targetPolicy()
	if err != nil {
		return err
	}
	sched, err := scheduler.New(scheduler.Config{
		Store: st, Cache: cache, ReplicaID: o.replicaID, CallbackURL: advertise, DrainTimeout: o.drainTimeout, ClaimAhead: o.claimAhead, Logger: log, Registerer: reg,
		Executor: scheduler.NewHTTPExecutor(scheduler.WithTargets(policy)),
	})
	if err != nil {
		return err
	}
	elector, err := election.New(election.Config{
		Client: client, Prefix: st.Keys().Election(), MembersPrefix: st.Keys().Members(),
		TTL: o.sessionTTL, ReplicaID: o.replicaID, AdvertiseURL: advertise, Started: started,
		Lead: sched.Lead, Logger: log, Registerer: reg,
	})
	if err != nil {
		return err
	}
	handler, err := api.New(api.Config{
		Store: st, Cache: cache, Leaders: observer, Self: election.Leader{ID: o.replicaID, URL: advertise, Started: started},
		Completed: sched.Completed, Health: elector.Healthy, Logger: log, Registerer: reg, Gatherer: reg, Tokens: tokens, UI: ui.Handler(),
		Targets: policy,
	})
	if err != nil {
		return err
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}

	// One context for every component; the first to stop (a signal, or a component failing)
	// stops them all. The elector resigns on the way out, so another replica takes over now.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var g run.Group
	g.Add(func() error { <-runCtx.Done(); return nil }, func(error) { cancel() })
	for name, fn := range map[string]func(context.Context) error{
		"job cache": cache.Run, "leader observer": observer.Run, "scheduler": sched.Run, "election": elector.Run,
	} {
		g.Add(func() error {
			if err := fn(runCtx); err != nil && runCtx.Err() == nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}, func(error) { cancel() })
	}
	g.Add(func() error {
		if err := server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	}, func(error) {
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer scancel()
		_ = server.Shutdown(sctx)
	})
	if o.pprofListen != "" {
		pln, err := net.Listen("tcp", o.pprofListen)
		if err != nil {
			return fmt.Errorf("--pprof-listen: %w", err)
		}
		profiles := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: zap.NewStdLog(log.Named("pprof"))}
		g.Add(func() error {
			if err := profiles.Serve(pln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("pprof server: %w", err)
			}
			return nil
		}, func(error) { _ = profiles.Close() })
		log.Info("pprof serving", zap.String("listen", pln.Addr().String()))
	}
	if embedded != nil {
		g.Add(func() error {
			select {
			case err := <-embedded.Err():
				return fmt.Errorf("embedded etcd: %w", err)
			case <-runCtx.Done():
				return nil
			}
		}, func(error) { cancel() })
	}

	log.Info("schedulerd serving", zap.String("api", advertise), zap.Strings("etcd", endpoints),
		zap.String("prefix", o.prefix), zap.Duration("sessionTTL", o.sessionTTL),
		zap.Strings("allowedTargetHosts", policy.AllowedHosts()), zap.String("secretsDir", policy.SecretsDir()))
	err = g.Run()
	if ctx.Err() != nil {
		log.Info("schedulerd stopped on signal")
		return nil
	}
	return err
}

// pprofHandler serves Go's profiles, on their own port: they are for operators, and the
// profile endpoints can run for a while.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// etcdClient connects to etcd with TLS and credentials when configured. The password is never
// logged: only whether one is set.
func (o *serveOptions) etcdClient(endpoints []string, log *zap.Logger) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		PermitWithoutStream:  true,
		Username:             os.Getenv(envEtcdUsername),
		Password:             os.Getenv(envEtcdPassword),
		Logger:               log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
	}
	pool := o.etcdPool
	if pool == nil {
		pool = etcdBufferPool
	}
	// Every call and stream: the codec only changes where messages are marshalled to; on
	// the wire they are gRPC's proto, content type application/grpc+proto.
	cfg.DialOptions = []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.ForceCodecV2(etcdCodec{pool: pool}))}
	if o.etcdCACert != "" || o.etcdCert != "" {
		info := transport.TLSInfo{TrustedCAFile: o.etcdCACert, CertFile: o.etcdCert, KeyFile: o.etcdKey}
		tc, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd TLS: %w", err)
		}
		tc.MinVersion = tls.VersionTLS12
		cfg.TLS = tc
	}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return client, nil
}

// Main runs root as a program: the context ends at the first SIGINT or SIGTERM (a second one
// kills the process the default way), and the exit code follows ExitCode.
func Main(root *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }()
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", root.Name(), err)
		os.Exit(ExitCode(err))
	}
}
