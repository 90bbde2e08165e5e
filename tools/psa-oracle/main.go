// Command psa-oracle evaluates pods with Pod Security Admission's own library
// (k8s.io/pod-security-admission/policy), the code the API server's PodSecurity plugin runs.
//
// It reads one Pod as JSON per line on standard input and writes one JSON line per pod:
//
//	{"baseline": {"v1.0": "", ..., "latest": "host namespaces (hostNetwork=true)"}, "restricted": {...}}
//
// An empty string means allowed; otherwise the text is PSA's ForbiddenDetail, the part of
// its denial after `violates PodSecurity "level:version": `. A line that is not a pod gets
// {"error": "..."}. Pods are decoded as the API server decodes them: case-sensitive field
// names, unknown fields dropped, integers kept exact. No defaulting is applied.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	sigsjson "sigs.k8s.io/json"
)

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "psa-oracle:", err)
		os.Exit(2)
	}
	newest, err := libraryVersion()
	if err != nil {
		fmt.Fprintln(os.Stderr, "psa-oracle:", err)
		os.Exit(2)
	}
	versions := []api.Version{api.LatestVersion()}
	for minor := 0; minor <= newest.Minor(); minor++ {
		versions = append(versions, api.MajorMinorVersion(1, minor))
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	for in.Scan() {
		var pod corev1.Pod
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(in.Bytes(), &pod); err != nil {
			_ = encoder.Encode(map[string]string{"error": err.Error()})
			continue
		}
		verdicts := map[string]map[string]string{}
		for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
			byVersion := map[string]string{}
			for _, version := range versions {
				lv := api.LevelVersion{Level: level, Version: version}
				result := policy.AggregateCheckResults(evaluator.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
				if result.Allowed {
					byVersion[version.String()] = ""
				} else {
					byVersion[version.String()] = result.ForbiddenDetail()
				}
			}
			verdicts[string(level)] = byVersion
		}
		if err := encoder.Encode(verdicts); err != nil {
			fmt.Fprintln(os.Stderr, "psa-oracle:", err)
			os.Exit(1)
		}
		out.Flush() // answer each line at once: callers may write and read in turn
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "psa-oracle:", err)
		os.Exit(1)
	}
}

// libraryVersion is v1.N for k8s.io/pod-security-admission v0.N.x, the release this binary
// was built with (a plain go build carries no Kubernetes version stamp of its own).
func libraryVersion() (api.Version, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return api.Version{}, fmt.Errorf("no build information in the binary")
	}
	for _, dep := range info.Deps {
		if dep.Path == "k8s.io/pod-security-admission" {
			var minor, patch int
			if _, err := fmt.Sscanf(dep.Version, "v0.%d.%d", &minor, &patch); err != nil {
				return api.Version{}, fmt.Errorf("unexpected version %s of %s", dep.Version, dep.Path)
			}
			return api.MajorMinorVersion(1, minor), nil
		}
	}
	return api.Version{}, fmt.Errorf("k8s.io/pod-security-admission is not among the build's modules")
}
