// Package routeoracle runs Istio's own config generation on a set of objects and reports the
// Envoy routing a gateway proxy (or a sidecar) receives, so that the collection's translations are judged by
// istiod's code rather than by a reading of the documentation.
//
// It is a Go test because Istio's in-process discovery server (pilot/test/xds) and traffic
// simulator (pilot/pkg/simulation) take a *testing.T. The build compiles it once with
// `go test -c` into .build/bin/route-oracle; callers run that binary with
// ROUTE_ORACLE_INPUT and ROUTE_ORACLE_OUTPUT naming JSON files:
//
//	input:  [{"id", "config": "<Istio / Gateway API YAML>", "kube": "<Services, Pods... YAML>",
//	          "proxy": {"namespace", "labels", "ip", "type"},
//	          "calls": [{"host", "port", "path", "tls", "sni", "mode", "address"}], "mesh_config"}]
//	output: [{"id", "error", "routes": [<RouteConfiguration as proto JSON>],
//	          "calls": [{"listener", "filter_chain", "route_config", "virtual_host", "route", "cluster",
//	                     "error"}], "http_filters", "typed_filters",
//	          "tls": {"<listener>/<index>:<filter chain>": {"server_names", "context": <DownstreamTlsContext>}}}]
package routeoracle

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"google.golang.org/protobuf/encoding/protojson"

	networking "istio.io/api/networking/v1alpha3"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/schema/gvk"
	"istio.io/istio/pkg/config/schema/gvr"
	"istio.io/istio/pkg/kube/kclient/clienttest"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/test/util/retry"
)

// announceGatewayAPIBundle marks the Gateway API CRDs with their bundle version, as the real CRDs
// are, waits until istiod has turned the TLSRoutes it then reads into routes, and pushes.
func announceGatewayAPIBundle(t *testing.T, s *xds.FakeDiscoveryServer, bundle string) {
	annotations := map[string]string{"gateway.networking.k8s.io/bundle-version": bundle}
	for _, resource := range []schema.GroupVersionResource{gvr.TLSRoute, gvr.TCPRoute, gvr.GRPCRoute, gvr.BackendTLSPolicy} {
		clienttest.MakeCRDWithAnnotations(t, s.KubeClient(), resource, annotations)
	}
	retry.UntilOrFail(t, func() bool {
		for _, vs := range s.Env().GatewayAPIController.List(gvk.VirtualService, "") {
			if len(vs.Spec.(*networking.VirtualService).Tls) > 0 {
				return true
			}
		}
		return false
	}, retry.Timeout(10*time.Second), retry.Delay(10*time.Millisecond))
	s.Discovery.ConfigUpdate(&model.PushRequest{Forced: true})
	s.EnsureSynced(t)
}

type proxySpec struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
	IP        string            `json:"ip"`
	// Type is "router" (a gateway, the default) or "sidecar" (an application pod's proxy).
	Type string `json:"type"`
}

type call struct {
	Host    string            `json:"host"`
	Port    int               `json:"port"`
	Path    string            `json:"path"`
	TLS     bool              `json:"tls"`
	SNI     string            `json:"sni"`
	Headers map[string]string `json:"headers"`
	// Mode is "gateway" (the default: the request reaches the proxy's own listener) or
	// "outbound" (an application's request to Address:Port, captured by the sidecar).
	Mode    string `json:"mode"`
	Address string `json:"address"`
}

type oracleCase struct {
	ID     string    `json:"id"`
	Config string    `json:"config"`
	Kube   string    `json:"kube"`
	Proxy  proxySpec `json:"proxy"`
	Calls  []call    `json:"calls"`
	// GatewayAPIBundle, when set, is the Gateway API bundle version the CRDs announce. istiod
	// reads TLSRoutes (and other kinds newer than v1.0) only from CRDs that carry it, which the
	// in-process server does not add by itself.
	GatewayAPIBundle string `json:"gateway_api_bundle"`
	// MeshConfig, when set, is the mesh configuration (YAML) on top of Istio's defaults, such as
	// the extension providers an install registers.
	MeshConfig string `json:"mesh_config"`
}

type callResult struct {
	Listener    string `json:"listener"`
	FilterChain string `json:"filter_chain"`
	RouteConfig string `json:"route_config"`
	VirtualHost string `json:"virtual_host"`
	Route       string `json:"route"`
	Cluster     string `json:"cluster"`
	Error       string `json:"error"`
}

type caseResult struct {
	ID     string            `json:"id"`
	Error  string            `json:"error,omitempty"`
	Routes []json.RawMessage `json:"routes"`
	Calls  []callResult      `json:"calls"`
	// HTTPFilters names, per listener and filter chain, the HTTP filters in order; TypedFilters
	// holds the configuration of the ext_authz and RBAC filters among them.
	HTTPFilters  map[string][]string          `json:"http_filters"`
	TypedFilters map[string][]json.RawMessage `json:"typed_filters"`
	// TLS holds, per listener and filter chain that ends TLS, the server names it matches and
	// its DownstreamTlsContext (the credential's SDS names, requireClientCertificate...).
	TLS map[string]tlsChain `json:"tls"`
}

type tlsChain struct {
	ServerNames []string        `json:"server_names"`
	Context     json.RawMessage `json:"context"`
}

func TestOracle(t *testing.T) {
	inputPath, outputPath := os.Getenv("ROUTE_ORACLE_INPUT"), os.Getenv("ROUTE_ORACLE_OUTPUT")
	if inputPath == "" || outputPath == "" {
		t.Skip("ROUTE_ORACLE_INPUT and ROUTE_ORACLE_OUTPUT name the cases and the answers")
	}
	// istiod logs every config event at info; the answers are what matters here.
	for _, scope := range log.Scopes() {
		scope.SetOutputLevel(log.ErrorLevel)
	}
	raw, err := os.ReadFile(inputPath)
	if err != nil {
		t.Fatal(err)
	}
	var cases []oracleCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("reading %s: %v", inputPath, err)
	}
	results := make([]caseResult, 0, len(cases))
	for _, c := range cases {
		results = append(results, runCase(t, c))
	}
	out, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outputPath, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runCase answers one case in a subtest, so that istiod rejecting the objects (a t.Fatal inside
// Istio's test helpers) is reported as that case's error instead of ending the run.
func runCase(t *testing.T, c oracleCase) caseResult {
	result := caseResult{
		ID: c.ID, Routes: []json.RawMessage{}, Calls: []callResult{},
		HTTPFilters: map[string][]string{}, TypedFilters: map[string][]json.RawMessage{}, TLS: map[string]tlsChain{},
	}
	passed := t.Run(strings.NewReplacer("/", "_", " ", "_").Replace(c.ID), func(t *testing.T) {
		options := xds.FakeOptions{ConfigString: c.Config, KubernetesObjectString: c.Kube}
		if c.MeshConfig != "" {
			m, err := mesh.ApplyMeshConfigDefaults(c.MeshConfig)
			if err != nil {
				t.Fatal(err)
			}
			options.MeshConfig = m
		}
		s := xds.NewFakeDiscoveryServer(t, options)
		if c.GatewayAPIBundle != "" {
			announceGatewayAPIBundle(t, s, c.GatewayAPIBundle)
		}
		labels := c.Proxy.Labels
		proxyType := model.Router
		if c.Proxy.Type == "sidecar" {
			proxyType = model.SidecarProxy
		}
		proxy := &model.Proxy{
			Type:            proxyType,
			Labels:          labels,
			ConfigNamespace: c.Proxy.Namespace,
			Metadata:        &model.NodeMetadata{Labels: labels, Namespace: c.Proxy.Namespace},
		}
		if c.Proxy.IP != "" {
			proxy.IPAddresses = []string{c.Proxy.IP}
		}
		sim := simulation.NewSimulation(t, s, s.SetupProxy(proxy))
		for _, rc := range sim.Routes {
			encoded, err := protojson.Marshal(rc)
			if err != nil {
				t.Fatal(err)
			}
			result.Routes = append(result.Routes, encoded)
		}
		for _, l := range sim.Listeners {
			for index, fc := range l.FilterChains {
				if socket := fc.GetTransportSocket(); socket != nil {
					encoded, err := protojson.Marshal(socket.GetTypedConfig())
					if err != nil {
						t.Fatal(err)
					}
					// A gateway's filter chains have no names: each is known by its place.
					key := fmt.Sprintf("%s/%d:%s", l.Name, index, fc.Name)
					result.TLS[key] = tlsChain{ServerNames: fc.GetFilterChainMatch().GetServerNames(), Context: encoded}
				}
				manager := xdstest.ExtractHTTPConnectionManager(t, fc)
				if manager == nil {
					continue
				}
				key := l.Name + "/" + fc.Name
				for _, filter := range manager.HttpFilters {
					result.HTTPFilters[key] = append(result.HTTPFilters[key], filter.Name)
					if strings.Contains(filter.Name, "ext_authz") || strings.Contains(filter.Name, "rbac") {
						encoded, err := protojson.Marshal(filter.GetTypedConfig())
						if err != nil {
							t.Fatal(err)
						}
						result.TypedFilters[key] = append(result.TypedFilters[key], encoded)
					}
				}
			}
		}
		for _, in := range c.Calls {
			sc := simulation.Call{
				Port: in.Port, Path: in.Path, HostHeader: in.Host, Protocol: simulation.HTTP,
				CallMode: simulation.CallModeGateway, TLS: simulation.Plaintext, Sni: in.SNI,
			}
			if in.Mode == "outbound" {
				sc.CallMode, sc.Address = simulation.CallModeOutbound, in.Address
			}
			if in.TLS {
				sc.TLS = simulation.TLS
				if in.SNI != "" && in.Path == "" {
					// SNI without a request: a TLS stream the gateway passes through.
					sc.Protocol = simulation.TCP
				}
			}
			r := sim.Run(sc)
			cr := callResult{
				Listener: r.ListenerMatched, FilterChain: r.FilterChainMatched,
				RouteConfig: r.RouteConfigMatched, VirtualHost: r.VirtualHostMatched, Route: r.RouteMatched, Cluster: r.ClusterMatched,
			}
			if r.Error != nil {
				cr.Error = r.Error.Error()
			}
			result.Calls = append(result.Calls, cr)
		}
	})
	if !passed {
		result.Error = fmt.Sprintf("istiod did not accept case %s (see the test log)", c.ID)
	}
	return result
}
