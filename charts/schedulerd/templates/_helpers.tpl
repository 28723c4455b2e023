{{/* Names */}}

{{- define "schedulerd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name when it already contains the chart's name. */}}
{{- define "schedulerd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "schedulerd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The embedded etcd's StatefulSet and headless Service; short enough for <name>-N pod names. */}}
{{- define "schedulerd.etcd.fullname" -}}
{{- printf "%s-etcd" (include "schedulerd.fullname" . | trunc 47 | trimSuffix "-") }}
{{- end }}

{{- define "schedulerd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "schedulerd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels */}}

{{- define "schedulerd.commonLabels" -}}
helm.sh/chart: {{ include "schedulerd.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: schedulerd
{{- end }}

{{/* The schedulerd pods: `app.kubernetes.io/name=schedulerd` selects them and nothing else. */}}
{{- define "schedulerd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schedulerd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "schedulerd.labels" -}}
{{ include "schedulerd.commonLabels" . }}
{{ include "schedulerd.selectorLabels" . }}
app.kubernetes.io/component: scheduler
{{- end }}

{{/* Label values are at most 63 characters: the name is cut to leave room for its suffix. */}}
{{- define "schedulerd.etcd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schedulerd.name" . | trunc 58 | trimSuffix "-" }}-etcd
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "schedulerd.etcd.labels" -}}
{{ include "schedulerd.commonLabels" . }}
{{ include "schedulerd.etcd.selectorLabels" . }}
app.kubernetes.io/component: etcd
{{- end }}

{{/* The helm test pod: not matched by the Deployment's selector, so its ReplicaSet never adopts it. */}}
{{- define "schedulerd.test.selectorLabels" -}}
app.kubernetes.io/name: {{ include "schedulerd.name" . | trunc 58 | trimSuffix "-" }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Images */}}

{{- define "schedulerd.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (toString .tag) }}
{{- end }}
{{- end }}

{{- define "schedulerd.image" -}}
{{- $img := deepCopy .Values.image }}
{{- $_ := set $img "tag" (default .Chart.AppVersion .Values.image.tag) }}
{{- include "schedulerd.imageRef" $img }}
{{- end }}

{{/* Security contexts: the PodSecurity "restricted" profile. */}}

{{- define "schedulerd.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "schedulerd.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Scheduling: topology spread and anti-affinity for a set of pods.
Takes a dict: spread (the topologySpread values), selector (selector labels as YAML). */}}
{{- define "schedulerd.spreadConstraints" -}}
{{- $selector := .selector | fromYaml }}
{{- range $key, $topology := dict "zone" "topology.kubernetes.io/zone" "hostname" "kubernetes.io/hostname" }}
{{- with index $.spread $key }}
- maxSkew: 1
  topologyKey: {{ $topology }}
  whenUnsatisfiable: {{ . }}
  # Tainted nodes the pods cannot go to are no domain to balance against.
  nodeTaintsPolicy: Honor
  labelSelector:
    matchLabels:
      {{- toYaml $selector | nindent 6 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Auth */}}

{{/* How the API authenticates: existing, tokens, generated or none. */}}
{{- define "schedulerd.authMode" -}}
{{- if .Values.auth.existingSecret }}existing
{{- else if .Values.auth.tokens }}tokens
{{- else if .Values.auth.insecureNoAuth }}none
{{- else if .Values.auth.generateAdminToken }}generated
{{- end }}
{{- end }}

{{- define "schedulerd.authSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else }}
{{- printf "%s-auth" (include "schedulerd.fullname" .) }}
{{- end }}
{{- end }}

{{/* The Secret and key the helm test reads its token from; empty when it has none. */}}
{{- define "schedulerd.test.tokenSecret" -}}
{{- if .Values.tests.tokenSecret }}
{{- .Values.tests.tokenSecret }}
{{- else if eq (include "schedulerd.authMode" .) "generated" }}
{{- include "schedulerd.authSecretName" . }}
{{- end }}
{{- end }}

{{- define "schedulerd.test.tokenSecretKey" -}}
{{- if and (not .Values.tests.tokenSecret) (eq (include "schedulerd.authMode" .) "generated") }}admin-token
{{- else }}{{ .Values.tests.tokenSecretKey }}
{{- end }}
{{- end }}

{{/* etcd */}}

{{- define "schedulerd.etcd.memberHost" -}}
{{- printf "%s-%d.%s.%s.svc.%s" .name .i .name .namespace .domain }}
{{- end }}

{{/* The client URLs schedulerd connects to, comma-separated. */}}
{{- define "schedulerd.etcdEndpoints" -}}
{{- if .Values.etcd.embedded.enabled }}
{{- $urls := list }}
{{- $name := include "schedulerd.etcd.fullname" . }}
{{- range $i := until (int .Values.etcd.embedded.replicaCount) }}
{{- $host := include "schedulerd.etcd.memberHost" (dict "name" $name "i" $i "namespace" $.Release.Namespace "domain" $.Values.etcd.embedded.clusterDomain) }}
{{- $urls = append $urls (printf "http://%s:2379" $host) }}
{{- end }}
{{- join "," $urls }}
{{- else }}
{{- join "," .Values.etcd.endpoints }}
{{- end }}
{{- end }}

{{/* The embedded etcd's --initial-cluster: every member's name and peer URL. */}}
{{- define "schedulerd.etcd.initialCluster" -}}
{{- $peers := list }}
{{- $name := include "schedulerd.etcd.fullname" . }}
{{- range $i := until (int .Values.etcd.embedded.replicaCount) }}
{{- $host := include "schedulerd.etcd.memberHost" (dict "name" $name "i" $i "namespace" $.Release.Namespace "domain" $.Values.etcd.embedded.clusterDomain) }}
{{- $peers = append $peers (printf "%s-%d=http://%s:2380" $name $i $host) }}
{{- end }}
{{- join "," $peers }}
{{- end }}

{{/* Durations */}}

{{/* config.drainTimeout in whole seconds, rounded up ("500ms", "1s", "1.5s", "2m"). */}}
{{- define "schedulerd.drainSeconds" -}}
{{- $d := toString .Values.config.drainTimeout }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $d }}
{{- $unit := trimPrefix $num $d }}
{{- $n := float64 (default "0" $num) }}
{{- if eq $unit "ms" }}{{ divf $n 1000 | ceil | int }}
{{- else if eq $unit "m" }}{{ mulf $n 60 | ceil | int }}
{{- else }}{{ ceil $n | int }}
{{- end }}
{{- end }}

{{/* Checks the schema cannot express; each fails the render with what to change. */}}
{{- define "schedulerd.validate" -}}
{{- $etcd := .Values.etcd }}
{{- if and $etcd.embedded.enabled $etcd.endpoints }}
{{- fail "etcd: both etcd.endpoints and etcd.embedded.enabled are set; choose one: an external etcd (etcd.endpoints, with etcd.embedded.enabled=false) or the chart's own etcd (etcd.embedded.enabled=true, no endpoints)" }}
{{- end }}
{{- if not (or $etcd.embedded.enabled $etcd.endpoints) }}
{{- fail "etcd: no etcd chosen; set etcd.endpoints to your etcd cluster's client URLs, or etcd.embedded.enabled=true for the chart's own small etcd" }}
{{- end }}
{{- if and $etcd.embedded.enabled (or $etcd.tls.existingSecret $etcd.auth.existingSecret) }}
{{- fail "etcd: etcd.tls and etcd.auth are for an external etcd (etcd.endpoints); the embedded etcd has neither" }}
{{- end }}
{{- if and $etcd.embedded.enabled (not (has (int $etcd.embedded.replicaCount) (list 1 3 5))) }}
{{- fail (printf "etcd.embedded.replicaCount must be 1, 3 or 5 (got %v)" $etcd.embedded.replicaCount) }}
{{- end }}
{{- if $etcd.tls.existingSecret }}
{{- range $etcd.endpoints }}
{{- if not (hasPrefix "https://" .) }}
{{- fail (printf "etcd: etcd.tls.existingSecret is set but endpoint %q is not https://" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- $auth := .Values.auth }}
{{- $ways := 0 }}
{{- if $auth.existingSecret }}{{ $ways = add1 $ways }}{{ end }}
{{- if $auth.tokens }}{{ $ways = add1 $ways }}{{ end }}
{{- if $auth.insecureNoAuth }}{{ $ways = add1 $ways }}{{ end }}
{{- if gt $ways 1 }}
{{- fail "auth: choose one of auth.existingSecret, auth.tokens and auth.insecureNoAuth" }}
{{- end }}
{{- if not (include "schedulerd.authMode" .) }}
{{- fail "auth: the API listens on 0.0.0.0:8080 and no authentication is configured. Give auth.existingSecret (a Secret with key `tokens`: lines `<sha256 of token> <viewer|operator|admin> <name>`, see docs/api.md#authentication), or auth.tokens (the same lines in values), or auth.generateAdminToken=true, or auth.insecureNoAuth=true to accept that anyone who reaches the port may change jobs" }}
{{- end }}
{{- $drain := include "schedulerd.drainSeconds" . | atoi }}
{{- if lt (int .Values.terminationGracePeriodSeconds) (add $drain 5) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be at least config.drainTimeout (%s) plus 5 s, so a replica can resign, drain and write its runs' results before it is killed" .Values.terminationGracePeriodSeconds .Values.config.drainTimeout) }}
{{- end }}
{{- range .Values.targetSecrets.env }}
{{- if not (regexMatch "^SCHEDULERD_SECRET_[A-Za-z0-9_]+$" .name) }}
{{- fail (printf "targetSecrets.env: %q must start with SCHEDULERD_SECRET_ (then letters, digits and _): the only variables a job's fromEnv may read" .name) }}
{{- end }}
{{- end }}
{{- if and .Values.networkPolicy.enabled $etcd.endpoints (not .Values.networkPolicy.egress.etcd.to) }}
{{- fail "networkPolicy: with an external etcd, networkPolicy.egress.etcd.to must say where it runs (ipBlock, namespaceSelector or podSelector), or replicas cannot reach it" }}
{{- end }}
{{- end }}
