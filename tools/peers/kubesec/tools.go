//go:build tools

// Package kubesec pins kubesec for scripts/peer-tools; it is never compiled into anything.
package kubesec

import _ "github.com/controlplaneio/kubesec/v2"
