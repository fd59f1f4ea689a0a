#!/usr/bin/env bash
# Apply manifests, then wait until every HostedAgent in them is Ready for the applied spec.
#
#   apply-and-wait.sh [-n NAMESPACE] [-t TIMEOUT_SECONDS] [--server-side] FILE|DIR...
#
# Exit status
#   0  every HostedAgent applied is Ready (its current generation is active and serving)
#   1  a HostedAgent failed in a way only a person can fix (Degraded=True and the operator
#      is no longer retrying: e.g. ImagePullBackOff), or the timeout (default 300 s) passed
#   2  usage error
# On failure it prints, for each HostedAgent that is not Ready, the Ready condition's reason
# and message and status.lastError.remediation (and a GitHub Actions ::error:: annotation
# when run there).
#
# Needs only kubectl on PATH, with a kubeconfig for the target cluster. Waiting uses
# `kubectl wait --for=condition=Ready`, which ignores a Ready condition left over from an
# older generation, so re-applying a changed spec waits for the new version.
set -euo pipefail

namespace=""
timeout=300
apply_flags=()
files=()

usage() {
  echo "usage: ${0##*/} [-n NAMESPACE] [-t TIMEOUT_SECONDS] [--server-side] FILE|DIR..." >&2
  exit 2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -n | --namespace) namespace="${2:?-n needs a namespace}"; shift 2 ;;
    -t | --timeout) timeout="${2:?-t needs seconds}"; shift 2 ;;
    --server-side) apply_flags+=(--server-side); shift ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) files+=(-f "$1"); shift ;;
  esac
done
[[ ${#files[@]} -gt 0 ]] || usage
[[ "$timeout" =~ ^[0-9]+$ ]] || { echo "timeout must be whole seconds: $timeout" >&2; exit 2; }

ns=()
[[ -n "$namespace" ]] && ns=(-n "$namespace")

# kubectl with the namespace flag, if any (an empty array is safe under `set -u` this way).
k() { kubectl ${ns[@]+"${ns[@]}"} "$@"; }

applied=$(k apply ${apply_flags[@]+"${apply_flags[@]}"} "${files[@]}" -o name)
agents=()
while IFS= read -r line; do
  [[ "$line" == hostedagent.foundry.agents.dev/* ]] && agents+=("${line#*/}")
done <<<"$applied"
if [[ ${#agents[@]} -eq 0 ]]; then
  echo "No HostedAgents in ${files[*]}; nothing to wait for."
  exit 0
fi
echo "Applied ${#agents[@]} HostedAgent(s): ${agents[*]}; waiting up to ${timeout}s for Ready."

field() {  # field AGENT JSONPATH
  k get hostedagent "$1" -o "jsonpath=$2"
}

# Degraded=True for the current generation while the operator is no longer retrying
# (Progressing=False): waiting longer cannot help. A missing Secret is Degraded but still
# retried, so it waits, in case the Secret is on its way.
given_up() {
  local gen degraded degraded_gen progressing
  gen=$(field "$1" '{.metadata.generation}')
  degraded=$(field "$1" '{.status.conditions[?(@.type=="Degraded")].status}')
  degraded_gen=$(field "$1" '{.status.conditions[?(@.type=="Degraded")].observedGeneration}')
  progressing=$(field "$1" '{.status.conditions[?(@.type=="Progressing")].status}')
  [[ "$degraded" == "True" && "$degraded_gen" == "$gen" && "$progressing" != "True" ]]
}

report() {  # report AGENT
  local phase reason message remediation
  phase=$(field "$1" '{.status.phase}')
  reason=$(field "$1" '{.status.conditions[?(@.type=="Ready")].reason}')
  message=$(field "$1" '{.status.conditions[?(@.type=="Ready")].message}')
  remediation=$(field "$1" '{.status.lastError.remediation}')
  echo "hostedagent/$1 is not Ready (phase ${phase:-none yet}):" >&2
  echo "  reason:      ${reason:-none reported yet}" >&2
  echo "  message:     ${message:-none}" >&2
  echo "  remediation: ${remediation:-none}" >&2
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    echo "::error title=HostedAgent $1 is not Ready::${reason:-NotReady}: ${message:-} ${remediation:-}"
  fi
}

deadline=$((SECONDS + timeout))
failed=()
for agent in "${agents[@]}"; do
  while true; do
    left=$((deadline - SECONDS))
    if ((left <= 0)); then
      failed+=("$agent")
      break
    fi
    # A short watch at a time, so a terminal failure is noticed without waiting it out.
    if k wait --for=condition=Ready "--timeout=$((left < 5 ? left : 5))s" \
      "hostedagent/$agent" >/dev/null 2>&1; then
      echo "hostedagent/$agent is Ready (serving version $(field "$agent" '{.status.servingVersion}'))"
      break
    fi
    if given_up "$agent"; then
      failed+=("$agent")
      break
    fi
  done
done

if [[ ${#failed[@]} -gt 0 ]]; then
  for agent in "${failed[@]}"; do
    report "$agent"
  done
  if ((SECONDS >= deadline)); then
    echo "Timed out after ${timeout}s." >&2
  fi
  k get hostedagent "${failed[@]}" -o wide >&2 || true
  exit 1
fi
