#!/usr/bin/env bash
# Release builds: static switchyard binaries for linux and darwin, amd64 and arm64, into dist/,
# with SHA-256 sums. Usage: scripts/release.sh [version] (default: git describe).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
rm -rf dist && mkdir -p dist
for os in linux darwin; do
  for arch in amd64 arm64; do
    out="dist/switchyard-${version}-${os}-${arch}"
    echo "building $out"
    CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
      -ldflags "-s -w -X github.com/switchyardhq/switchyard/internal/app.Version=${version}" \
      -o "$out" ./cmd/switchyard
  done
done
(cd dist && sha256sum switchyard-* > SHA256SUMS)
echo "done: dist/"
