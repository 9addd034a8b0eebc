//go:build tools

// Package tools pins fake-gcs-server (test tooling only; see README.md).
package tools

import _ "github.com/fsouza/fake-gcs-server"
