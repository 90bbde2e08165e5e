//go:build tools

// Package kubeaudit pins kubeaudit for scripts/peer-tools; it is never compiled into anything.
package kubeaudit

import _ "github.com/Shopify/kubeaudit/cmd"
