#!/usr/bin/env bash
# Kill schedulerd pods the way nodes and operators do, and log each fault for
# `schedulerd-chaos check --faults`. See docs/failover-testing.md.
#
#   hack/kill-pods.sh [-n NAMESPACE] [-l SELECTOR] [-S SERVICE] [-d DURATION_SECONDS] [-s SEED] [-o FAULTS_FILE]
#
# Each round picks a fault at random (seeded):
#   kill-leader    kubectl delete pod <leader> --force --grace-period=0   (node lost, OOM kill)
#   term-leader    kubectl delete pod <leader>                            (rolling update, drain)
#   kill-follower  kubectl delete pod <a follower> --force --grace-period=0
# then waits 10–30 s. The leader is read from /v1/cluster through a port-forward to SERVICE
# (any replica answers), so the image needs no shell tools. Needs kubectl and curl.
set -euo pipefail

ns=default selector=app.kubernetes.io/name=schedulerd service=schedulerd duration=1800 seed=1 out=faults.jsonl
while getopts "n:l:S:d:s:o:" opt; do
  case $opt in
    n) ns=$OPTARG ;; l) selector=$OPTARG ;; S) service=$OPTARG ;; d) duration=$OPTARG ;; s) seed=$OPTARG ;; o) out=$OPTARG ;;
    *) echo "usage: $0 [-n NAMESPACE] [-l SELECTOR] [-S SERVICE] [-d SECONDS] [-s SEED] [-o FAULTS_FILE]" >&2; exit 2 ;;
  esac
done
RANDOM=$seed
end=$(( $(date +%s) + duration ))

pods() { kubectl -n "$ns" get pods -l "$selector" --field-selector=status.phase=Running -o name | sed 's|pod/||'; }

kubectl -n "$ns" port-forward "svc/$service" 18080:8080 >/dev/null 2>&1 &
pf=$!
trap 'kill $pf 2>/dev/null' EXIT
sleep 2

leader() {
  # The replica id must be the pod name (--replica-id from metadata.name).
  curl -fsS --max-time 5 http://127.0.0.1:18080/v1/cluster | tr -d '\n ' |
    sed -n 's/.*"leader":{"id":"\([^"]*\)".*/\1/p'
}

fault() { # kind pod
  printf '{"kind":"%s","at":"%s","detail":"%s"}\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$2" >> "$out"
  echo "$(date -u +%T) $1 $2"
}

while [ "$(date +%s)" -lt "$end" ]; do
  l=$(leader | tr -d '\n')
  if [ -z "$l" ]; then sleep 2; continue; fi
  case $(( RANDOM % 3 )) in
    0) fault kill-leader "$l"; kubectl -n "$ns" delete pod "$l" --force --grace-period=0 --wait=false >/dev/null 2>&1 ;;
    1) fault term-leader "$l"; kubectl -n "$ns" delete pod "$l" --wait=false >/dev/null ;;
    2) f=$(pods | grep -vx "$l" | sed -n "$(( RANDOM % 2 + 1 ))p")
       [ -n "$f" ] && { fault kill-follower "$f"; kubectl -n "$ns" delete pod "$f" --force --grace-period=0 --wait=false >/dev/null 2>&1; } ;;
  esac
  sleep $(( 10 + RANDOM % 21 ))
done
