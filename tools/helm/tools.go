//go:build tools

// Package helm pins the helm binary podsec's chart tests run (helm lint, helm template); it is
// never compiled into anything. scripts/helm-tool builds it from this module into a cache
// outside the work tree.
package helm

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
