package tests

import (
	"strings"
	"testing"
)

// values.schema.json refuses each of these, naming the field (a JSON pointer into the values)
// and, for an unknown key, the key.
func TestSchemaRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		want         []string
	}{
		{"replicaCount 0", `replicaCount: 0`, []string{"'/replicaCount'"}},
		{"replicaCount a string", `replicaCount: "3"`, []string{"'/replicaCount'"}},
		{"unknown top-level key", `replicas: 3`, []string{"'replicas'"}},
		{"unknown nested key", `config: {drainTimeOut: 1s}`, []string{"'/config'", "'drainTimeOut'"}},
		{"unknown key deep down", `etcd: {embedded: {persistence: {sizeGi: 8}}}`, []string{"'/etcd/embedded/persistence'", "'sizeGi'"}},
		{"sessionTTL not whole seconds", `config: {sessionTTL: 1m30s}`, []string{"'/config/sessionTTL'"}},
		{"drainTimeout not a duration", `config: {drainTimeout: soon}`, []string{"'/config/drainTimeout'"}},
		{"drainTimeout in hours", `config: {drainTimeout: 1h}`, []string{"'/config/drainTimeout'"}},
		{"claimAhead over 5s", `config: {claimAhead: 6s}`, []string{"'/config/claimAhead'"}},
		{"claimAhead negative", `config: {claimAhead: -100ms}`, []string{"'/config/claimAhead'"}},
		{"autoCompactionRetention not a duration", `etcd: {embedded: {autoCompactionRetention: daily}}`, []string{"'/etcd/embedded/autoCompactionRetention'"}},
		{"serviceMonitor interval not a duration", `metrics: {serviceMonitor: {interval: 30}}`, []string{"'/metrics/serviceMonitor/interval'"}},
		{"env name without SCHEDULERD_SECRET_", `targetSecrets: {env: [{name: API_KEY, secretKeyRef: {name: s, key: k}}]}`, []string{"'/targetSecrets/env/0/name'"}},
		{"env without secretKeyRef", `targetSecrets: {env: [{name: SCHEDULERD_SECRET_X}]}`, []string{"'/targetSecrets/env/0'", "secretKeyRef"}},
		{"embedded etcd of 2", `etcd: {embedded: {replicaCount: 2}}`, []string{"'/etcd/embedded/replicaCount'"}},
		{"embedded etcd of 4", `etcd: {embedded: {replicaCount: 4}}`, []string{"'/etcd/embedded/replicaCount'"}},
		{"etcd endpoint with credentials", `etcd: {endpoints: ["https://root:pw@etcd:2379"], embedded: {enabled: false}}`, []string{"'/etcd/endpoints/0'"}},
		{"tokens line without a hash", `auth: {tokens: ["secret admin ci"]}`, []string{"'/auth/tokens/0'"}},
		{"tokens line with an unknown role", `auth: {tokens: ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 root ci"]}`, []string{"'/auth/tokens/0'"}},
		{"bool as a string", `auth: {insecureNoAuth: "true"}`, []string{"'/auth/insecureNoAuth'"}},
		{"port as a string", `service: {port: "8080"}`, []string{"'/service/port'"}},
		{"list as a map", `config: {allowedTargetHosts: {host: a}}`, []string{"'/config/allowedTargetHosts'"}},
		{"map as a list", `podAnnotations: [a]`, []string{"'/podAnnotations'"}},
		{"grace period under 6", `terminationGracePeriodSeconds: 5`, []string{"'/terminationGracePeriodSeconds'"}},
		{"unknown anti-affinity", `podAntiAffinity: always`, []string{"'/podAntiAffinity'"}},
		{"unknown log level", `config: {logLevel: verbose}`, []string{"'/config/logLevel'"}},
		{"ingress on without hosts", `ingress: {enabled: true}`, []string{"'/ingress/hosts'"}},
		{"short image digest", `image: {digest: "sha256:abc"}`, []string{"'/image/digest'"}},
		{"unknown whenUnsatisfiable", `topologySpread: {zone: Sometimes}`, []string{"'/topologySpread/zone'"}},
		{"CIDR without a prefix length", `networkPolicy: {egress: {targets: {cidrs: [10.0.0.1]}}}`, []string{"'/networkPolicy/egress/targets/cidrs/0'"}},
		{"PDB maxUnavailable -1", `podDisruptionBudget: {maxUnavailable: -1}`, []string{"'/podDisruptionBudget/maxUnavailable'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(tc.values, renderOptions{})
			if err == nil {
				t.Fatalf("values %q rendered", tc.values)
			}
			msg := err.Error()
			if !strings.Contains(msg, "values don't meet the specifications of the schema") {
				t.Errorf("values %q: not refused by the schema: %v", tc.values, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("values %q: the error does not name %s:\n%v", tc.values, w, err)
				}
			}
		})
	}
}

// The schema accepts the edges of what it allows, and the templates agree.
func TestSchemaAccepts(t *testing.T) {
	for _, tc := range []struct{ name, values string }{
		{"drain 500ms, grace 6", `{config: {drainTimeout: 500ms}, terminationGracePeriodSeconds: 6}`},
		{"drain 1.5s, grace 7", `{config: {drainTimeout: 1.5s}, terminationGracePeriodSeconds: 7}`},
		{"drain 25s, grace 30", `config: {drainTimeout: 25s}`},
		{"drain 2m, grace 125", `{config: {drainTimeout: 2m}, terminationGracePeriodSeconds: 125}`},
		{"image by digest", `image: {digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`},
		{"Recreate", `updateStrategy: {type: Recreate}`},
		{"PDB maxUnavailable 50%", `podDisruptionBudget: {maxUnavailable: 50%}`},
		{"hard anti-affinity, no zone spread", `{podAntiAffinity: hard, topologySpread: {zone: ""}}`},
		{"IPv6", `config: {advertiseURL: "http://[$(POD_IP)]:8080"}`},
		{"compaction in hours", `etcd: {embedded: {autoCompactionRetention: "24"}}`},
		{"storageClass -", `etcd: {embedded: {persistence: {storageClass: "-"}}}`},
		{"extra env and args", `{extraEnv: [{name: HTTPS_PROXY, value: "http://proxy:3128"}], config: {extraArgs: [--pprof-listen=127.0.0.1:6060]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := render(tc.values, renderOptions{}); err != nil {
				t.Errorf("values %q: %v", tc.values, err)
			}
		})
	}
}

// What the schema cannot say, the templates check: each of these passes the schema and fails
// the render with a message that says what to change. With --skip-schema-validation the
// templates still refuse what matters most.
func TestTemplatesFail(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		skipSchema   bool
		want         string
	}{
		{"etcd endpoints and embedded", `etcd: {endpoints: ["http://etcd:2379"]}`, false,
			"etcd: both etcd.endpoints and etcd.embedded.enabled are set"},
		{"no etcd", `etcd: {embedded: {enabled: false}}`, false,
			"etcd: no etcd chosen"},
		{"TLS for the embedded etcd", `etcd: {tls: {existingSecret: etcd-ca}}`, false,
			"etcd.tls and etcd.auth are for an external etcd"},
		{"a user for the embedded etcd", `etcd: {auth: {existingSecret: etcd-user}}`, false,
			"etcd.tls and etcd.auth are for an external etcd"},
		{"TLS to an http endpoint", `etcd: {endpoints: ["http://etcd:2379"], tls: {existingSecret: etcd-ca}, embedded: {enabled: false}}`, false,
			`endpoint "http://etcd:2379" is not https://`},
		{"existingSecret and insecureNoAuth", `auth: {existingSecret: tokens, insecureNoAuth: true}`, false,
			"auth: choose one of auth.existingSecret, auth.tokens and auth.insecureNoAuth"},
		{"tokens and existingSecret", `auth: {existingSecret: tokens, tokens: ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 admin ci"]}`, false,
			"auth: choose one of auth.existingSecret, auth.tokens and auth.insecureNoAuth"},
		{"no authentication", `auth: {generateAdminToken: false}`, false,
			"auth: the API listens on 0.0.0.0:8080 and no authentication is configured"},
		{"grace under drain + 5s", `config: {drainTimeout: 26s}`, false,
			"terminationGracePeriodSeconds (30) must be at least config.drainTimeout (26s) plus 5 s"},
		{"grace under a fractional drain + 5s", `{config: {drainTimeout: 1.5s}, terminationGracePeriodSeconds: 6}`, false,
			"terminationGracePeriodSeconds (6) must be at least config.drainTimeout (1.5s) plus 5 s"},
		{"grace under a drain in minutes + 5s", `{config: {drainTimeout: 2m}, terminationGracePeriodSeconds: 124}`, false,
			"terminationGracePeriodSeconds (124) must be at least config.drainTimeout (2m) plus 5 s"},
		{"networkPolicy without the external etcd's peers", `{etcd: {endpoints: ["https://etcd:2379"], embedded: {enabled: false}}, networkPolicy: {enabled: true}}`, false,
			"networkPolicy: with an external etcd, networkPolicy.egress.etcd.to must say where it runs"},
		{"embedded etcd of 2, schema skipped", `etcd: {embedded: {replicaCount: 2}}`, true,
			"etcd.embedded.replicaCount must be 1, 3 or 5 (got 2)"},
		{"env name, schema skipped", `targetSecrets: {env: [{name: API_KEY, secretKeyRef: {name: s, key: k}}]}`, true,
			`targetSecrets.env: "API_KEY" must start with SCHEDULERD_SECRET_`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(tc.values, renderOptions{skipSchema: tc.skipSchema})
			if err == nil {
				t.Fatalf("values %q rendered", tc.values)
			}
			if msg := err.Error(); strings.Contains(msg, "values don't meet the specifications of the schema") || !strings.Contains(msg, tc.want) {
				t.Errorf("values %q: want a template failure saying %q, got:\n%v", tc.values, tc.want, err)
			}
		})
	}
}
