//go:build tools

// Package kubescore pins kube-score for scripts/peer-tools; it is never compiled into anything.
package kubescore

import _ "github.com/zegl/kube-score/cmd/kube-score"
