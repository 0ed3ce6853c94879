#!/usr/bin/env bash
# `make run`: with the local control plane up and the CRDs installed, register the member
# clusters, start the operator in the foreground, and apply the samples from examples/
# once it is running. Stop with Ctrl-C; `make cluster-down` removes the control plane.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${BIZDOMAIN_BIN_DIR:?set by make}"
host=.cluster/host.kubeconfig
k() { "$bin/kubectl" --kubeconfig "$host" "$@"; }
ns="${BIZDOMAIN_NAMESPACE:-bizdomain-system}"
members="${MEMBERS:-dev prod}"

k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null
k apply -f charts/bizdomain/files/domain-owner-clusterrole.yaml >/dev/null
k apply -f charts/bizdomain/files/budget-policy.yaml >/dev/null
k apply -f charts/bizdomain/files/sandbox-creator-clusterrole.yaml >/dev/null
k apply -f charts/bizdomain/files/sandbox-policy.yaml >/dev/null
for m in $members; do
  .venv/bin/bizdomain join --host-kubeconfig "$host" --member-kubeconfig ".cluster/$m.kubeconfig" \
    --name "$m" --environment "$m" --namespace "$ns"
done

apply_samples() {
  for _ in $(seq 1 60); do k get ns bizdomain-system >/dev/null 2>&1 && break; sleep 1; done
  k apply -f examples/payments-domain.yaml
  # Until the operator made domain-payments and Kubernetes' quota controller counted its binding
  # quota, the API server refuses the bindings ("status unknown for quota"): try again, as GitOps would.
  # (On a fresh control plane that takes up to about a minute: the operator makes the quota again once
  # Kubernetes has discovered the new kind.)
  for i in $(seq 1 180); do
    k apply -f examples/payments-bindings.yaml 2>/dev/null && break
    [ "$i" = 10 ] && echo ">>> waiting for the host to count the binding quota of domain-payments ..."
    sleep 1
  done
  echo
  echo ">>> samples applied. In another terminal:"
  echo ">>>   export KUBECONFIG=$PWD/$host"
  echo ">>>   $bin/kubectl get domains"
  echo ">>>   $bin/kubectl --kubeconfig .cluster/prod.kubeconfig get workspaces,ns,rolebindings -A -l app.kubernetes.io/managed-by=bizdomain"
  echo
}
apply_samples &

export KUBECONFIG="$PWD/$host"
exec .venv/bin/python -m bizdomain --metrics-port "${METRICS_PORT:-8080}" --liveness http://127.0.0.1:${LIVENESS_PORT:-8081}/healthz
