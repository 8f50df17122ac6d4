//go:build tools

// Package tools pins the commands this module builds: the CNCF distribution registry, the OCI
// registry the local plane serves Istio's charts from (oci://), as ghcr.io serves Istio's own.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
)
