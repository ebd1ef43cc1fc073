#!/usr/bin/env bash
# `make k8s-validate`: render every overlay with `kubectl kustomize` and validate each resource
# strictly (unknown fields are errors) against the Kubernetes API schemas that
# kubernetes-validate ships, so nothing is fetched. Where the kernel allows it the validator
# runs in a network namespace of its own, which proves it stays offline. A resource whose
# schema is unknown is only a warning to kubernetes-validate; here any output fails.
set -euo pipefail
cd "$(dirname "$0")"

K8S_VERSION=${K8S_VERSION:-1.32.0}
KUBECTL=${KUBECTL:-kubectl}
VALIDATE=${KUBERNETES_VALIDATE:-../.venv/bin/kubernetes-validate}
offline=()
if unshare --user --map-root-user --net true 2>/dev/null; then
  offline=(unshare --user --map-root-user --net)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for overlay in overlays/*/; do
  name=$(basename "$overlay")
  "$KUBECTL" kustomize "$overlay" >"$work/$name.yaml"
  if ! report=$("${offline[@]}" "$VALIDATE" --strict --quiet -k "$K8S_VERSION" "$work/$name.yaml" 2>&1) \
      || [ -n "$report" ]; then
    printf '%s\n' "$report" >&2
    echo "k8s/overlays/$name: INVALID" >&2
    status=1
    continue
  fi
  echo "k8s/overlays/$name: $(grep -c '^kind:' "$work/$name.yaml") resources valid" \
    "(kubernetes-validate --strict, Kubernetes $K8S_VERSION${offline:+, no network})"
done
exit "$status"
