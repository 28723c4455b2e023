package tests

import (
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// `helm lint --strict` with the defaults and each ci file: no error and no warning (strict
// fails on both). Info messages are logged: the chart has no icon, on purpose. This is
// pkg/lint, which `helm lint` runs; pkg/action would add kubectl and kustomize to the build.
func TestLintStrict(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range valueSets {
		if vs.name != "defaults" && vs.ciFile == "" {
			continue
		}
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			vals, err := chartutil.ReadValues([]byte(valuesOf(t, vs)))
			if err != nil {
				t.Fatal(err)
			}
			linter := lint.AllWithKubeVersion(chartDir, vals, namespace, kv)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				} else {
					t.Logf("lint: %s", m)
				}
			}
		})
	}
}
