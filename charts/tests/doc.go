// Package tests checks the Helm chart in charts/schedulerd with Go alone: no helm binary, no
// cluster, no network beyond loopback.
//
// What the tests prove:
//
//   - The chart renders (Helm's SDK, Kubernetes 1.26 capabilities, strict template mode) for its
//     defaults, every file in charts/schedulerd/ci and the value sets in the tests, and every
//     rendered object decodes strictly (case-sensitive, no unknown or duplicate fields) into the
//     Go type of its apiVersion and kind: k8s.io/api, and prometheus-operator's monitoring/v1.
//   - The objects say what the chart promises: replicas, probes, the restricted security
//     context, a grace period that covers the drain, spreading, the tokens file and the etcd
//     TLS files mounted where the flags say, the etcd members, the selectors that tie
//     Services, PDBs and the ServiceMonitor to their pods, the helm test hook. The
//     NetworkPolicies, evaluated for pods with the chart's labels, let the chart's pods reach
//     each other, the DNS and an external etcd, and keep everyone else from the embedded etcd.
//   - Names, labels, annotations, selectors, container, port and variable names are valid for
//     the API server, with names as long as Helm and the schema allow.
//   - values.schema.json refuses bad values naming the field, and the templates' own checks
//     fail the render with their message.
//   - helm lint, strict, finds no error and no warning (its one info: the chart has no icon).
//   - Every alert rule and dashboard query parses as PromQL and names only series, labels and
//     label values a real schedulerd exports: the tests build cmd/schedulerd from the main
//     module, run it on loopback with an embedded etcd, run a job once and scrape it.
//     docs/metrics.md lists exactly the metric families it exports, with types and labels.
//
// What they do not prove: that Kubernetes admits the objects (the API server's validation is
// more than the Go types and the name rules), that the pods start, or that the helm test
// passes; that is `helm install` and `helm test` on a cluster (docs/operations.md).
//
// This is a separate module so the main module does not depend on Helm, Kubernetes and
// Prometheus; it builds the main module's binary with the go command instead of importing it.
package tests
