// Package cli is schedulerd's command-line client: `schedulerd jobs …`, `runs …` and
// `cluster …`, built on pkg/client (docs/cli.md).
//
// Promises: a usage error (bad flags or arguments) is a serve.UsageError, so the process
// exits 2; any other failure exits 1. The bearer token is sent only as an Authorization header:
// it is never printed, not in an error, not in --verbose output, not as a flag's default in
// --help. `jobs apply` writes nothing unless every document is valid, and writes each job
// under a precondition on what it read, so it never overwrites a change it did not see.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/schedulerd/schedulerd/internal/serve"
	"github.com/schedulerd/schedulerd/pkg/client"
)

// Environment variables of the client flags.
const (
	EnvServer = "SCHEDULERD_SERVER"
	EnvToken  = "SCHEDULERD_TOKEN"
)

// DefaultServer is the API the client talks to without --server or SCHEDULERD_SERVER.
const DefaultServer = "http://127.0.0.1:8080"

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// globals are the flags every client command takes.
type globals struct {
	server  string
	token   string
	output  string
	timeout time.Duration
	verbose bool
	// transport sends the requests; nil for http.DefaultTransport (tests wrap it).
	transport http.RoundTripper
	// stderr gets --verbose output: the command's error stream.
	stderr io.Writer
}

// Option adjusts the commands, for tests.
type Option func(*globals)

// WithTransport sends the commands' requests through rt.
func WithTransport(rt http.RoundTripper) Option { return func(g *globals) { g.transport = rt } }

// Commands returns the client commands, to be added to the root command.
func Commands(opts ...Option) []*cobra.Command {
	g := &globals{}
	for _, o := range opts {
		o(g)
	}
	groups := []*cobra.Command{g.jobsCommand(), g.runsCommand(), g.clusterCommand()}
	for _, cmd := range groups {
		g.addFlags(cmd.PersistentFlags())
		cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.check(cmd) }
	}
	return groups
}

// group is a command that only holds subcommands: without one it shows its help, and an
// unknown one is a usage error.
func group(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  usage(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subs...)
	return cmd
}

func (g *globals) addFlags(f *pflag.FlagSet) {
	// No default is read from the environment here: --help must never show the token.
	f.StringVar(&g.server, "server", DefaultServer, "API of any schedulerd replica (env "+EnvServer+")")
	f.StringVar(&g.token, "token", "", "bearer token, sent as Authorization: Bearer; never printed (env "+EnvToken+")")
	f.StringVarP(&g.output, "output", "o", formatTable, "output format: table, json or yaml")
	f.DurationVar(&g.timeout, "timeout", 30*time.Second, "time limit of each request; 0 for none")
	f.BoolVarP(&g.verbose, "verbose", "v", false, "print each request and its answer's status to stderr (never the token)")
}

// resolve fills server and token from the environment when their flags were not given.
func (g *globals) resolve(cmd *cobra.Command) {
	fromEnv := func(flag, env string, into *string) {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			return
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			*into = v
		}
	}
	fromEnv("server", EnvServer, &g.server)
	fromEnv("token", EnvToken, &g.token)
}

// check validates the client flags (a usage error when they are wrong).
func (g *globals) check(cmd *cobra.Command) error {
	g.resolve(cmd)
	g.stderr = cmd.ErrOrStderr()
	switch g.output {
	case formatTable, formatJSON, formatYAML:
	default:
		return usageErrorf("--output %q: want table, json or yaml", g.output)
	}
	if g.timeout < 0 {
		return usageErrorf("--timeout must not be negative")
	}
	if _, err := g.client(); err != nil {
		// The client's message names the server or the token (without echoing the token).
		return usageErrorf("%s", strings.TrimPrefix(err.Error(), "client: "))
	}
	return nil
}

// client returns an API client for the resolved flags.
func (g *globals) client() (*client.Client, error) {
	rt := g.transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	if g.verbose {
		w := g.stderr
		if w == nil {
			w = os.Stderr
		}
		rt = verboseTransport{next: rt, w: w, withToken: g.token != ""}
	}
	return client.New(g.server, g.token, &http.Client{Transport: rt, Timeout: g.timeout})
}

// verboseTransport prints each request's method and URL and its answer's status. Headers are
// not printed: the Authorization header is only said to be there.
type verboseTransport struct {
	next      http.RoundTripper
	w         io.Writer
	withToken bool
}

func (v verboseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	auth := ""
	if v.withToken {
		auth = " (with a bearer token)"
	}
	fmt.Fprintf(v.w, "> %s %s%s\n", r.Method, r.URL.Redacted(), auth)
	start := time.Now()
	resp, err := v.next.RoundTrip(r)
	if err != nil {
		fmt.Fprintf(v.w, "< %v (%s)\n", err, time.Since(start).Round(time.Millisecond))
		return nil, err
	}
	fmt.Fprintf(v.w, "< %s (%s)\n", resp.Status, time.Since(start).Round(time.Millisecond))
	return resp, nil
}

// usage makes an argument check's error a usage error.
func usage(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return serve.UsageError{Err: fmt.Errorf("%w; see %s --help", err, cmd.CommandPath())}
		}
		return nil
	}
}

func usageErrorf(format string, args ...any) error {
	return serve.UsageError{Err: fmt.Errorf(format, args...)}
}

// failed is an error of the API or the network as people read it: a problem's title and
// status, then each bad field on its own line.
type failed struct{ err error }

func (f failed) Unwrap() error { return f.err }

func (f failed) Error() string {
	var p *client.Problem
	if !errors.As(f.err, &p) {
		if errors.Is(f.err, context.DeadlineExceeded) || strings.Contains(f.err.Error(), "Client.Timeout") {
			return f.err.Error() + " (see --timeout)"
		}
		return f.err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d)", p.Title, p.Status)
	if len(p.Errors) == 0 && p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for _, fe := range p.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", field(fe.Pointer), fe.Detail)
	}
	switch p.Status {
	case http.StatusUnauthorized:
		b.WriteString("\n  (give a token with --token or " + EnvToken + ")")
	case http.StatusForbidden:
		b.WriteString("\n  (the token's role does not allow this)")
	}
	return b.String()
}

// fail wraps an error of the client for printing; nil stays nil.
func fail(err error) error {
	if err == nil {
		return nil
	}
	return failed{err}
}

// field turns a JSON Pointer of a problem ("#/target/http/url", "#/retry/on/0") into the
// dotted path people write ("target.http.url", "retry.on[0]").
func field(pointer string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(pointer, "#"), "/")
	if p == "" {
		return "(document)"
	}
	var b strings.Builder
	for i, tok := range strings.Split(p, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch {
		case tok != "" && strings.Trim(tok, "0123456789") == "":
			b.WriteString("[" + tok + "]")
		case i > 0:
			b.WriteString("." + tok)
		default:
			b.WriteString(tok)
		}
	}
	return b.String()
}

// ctx is the command's context: it ends at SIGINT/SIGTERM (serve.Main).
func ctx(cmd *cobra.Command) context.Context {
	if c := cmd.Context(); c != nil {
		return c
	}
	return context.Background()
}

// call makes one API call and prints its answer: the API's object as JSON or YAML, or as
// table draws it for people.
func call[T any](g *globals, cmd *cobra.Command, do func(context.Context, *client.Client) (T, error), table func(printer, T) error) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	v, err := do(ctx(cmd), c)
	if err != nil {
		return fail(err)
	}
	p := g.printer(cmd)
	if !p.table() {
		return p.object(v)
	}
	return table(p, v)
}

// line prints one line for people.
func line(p printer, format string, args ...any) error {
	_, err := fmt.Fprintf(p.w, format+"\n", args...)
	return err
}
