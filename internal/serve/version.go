package serve

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

// version is set at build time with
// -ldflags "-X github.com/schedulerd/schedulerd/internal/serve.version=v1.2.3"; otherwise it
// comes from the module build info.
var version = ""

func buildVersion() (ver, revision string) {
	ver = version
	if info, ok := debug.ReadBuildInfo(); ok {
		if ver == "" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	return ver, revision
}

// VersionCommand returns the `version` command.
func VersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, rev := buildVersion()
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "schedulerd %s %s\n", v, rev)
			return err
		},
	}
}

// registerBuildInfo exports schedulerd_build_info, the usual constant-1 info metric.
func registerBuildInfo(reg prometheus.Registerer) {
	v, rev := buildVersion()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "schedulerd_build_info",
		Help:        "Always 1; labels say which build this replica runs.",
		ConstLabels: prometheus.Labels{"version": v, "revision": rev, "goversion": runtime.Version()},
	})
	g.Set(1)
	reg.MustRegister(g)
}
