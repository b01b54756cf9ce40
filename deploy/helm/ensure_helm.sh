#!/usr/bin/env bash
# Prints the path of the helm binary the deploy checks use, building it on first use.
#
# helm is built from its Go module (no release archive, no container), once per version, into a
# cache outside the clone (NURTURE_TOOLS_CACHE, default ~/.cache/candidate-nurture/tools), so CI
# reruns and fresh clones on the same machine reuse it. Only the path goes to stdout.
set -euo pipefail

HELM_VERSION=v4.3.2   # the version approved for this project; change it here only
cache="${NURTURE_TOOLS_CACHE:-$HOME/.cache/candidate-nurture/tools}"
dir="$cache/helm-$HELM_VERSION"
bin="$dir/helm"

# A binary left by an interrupted or different build is rebuilt, not trusted.
if [[ -x $bin ]] && [[ "$("$bin" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "ensure_helm: $bin is missing and go is not installed to build it" >&2
  exit 1
fi
echo "ensure_helm: building helm $HELM_VERSION into $dir (once; a few minutes on a cold Go cache)" >&2
mkdir -p "$cache"
# Build into a private directory and rename it into place: a concurrent run (make and pytest at
# once) never executes a half-written binary.
tmp="$(mktemp -d "$cache/.helm-build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# The version is stamped the way helm's own Makefile does, so `helm version` names the release.
CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
mkdir -p "$dir"
mv -f "$tmp/helm" "$bin"
echo "$bin"
