//go:build tools

// Package kube pins the Kubernetes binaries podsec's kube tests run against; it is never
// compiled into anything. scripts/kube-tools builds them from this module into a cache
// outside the work tree.
package kube

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
