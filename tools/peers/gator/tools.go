//go:build tools

// Package gator pins gator for scripts/peer-tools; it is never compiled into anything.
package gator

import _ "github.com/open-policy-agent/gatekeeper/v3/cmd/gator"
