//go:build adoptmesh_oracle

// The ingress-nginx oracle: ingress-nginx's own controller code, given Kubernetes objects, says
// which configuration it would run. tools/cluster/build.sh copies the pinned k8s.io/ingress-nginx
// module from Go's module cache into .build/, puts this file beside the controller it drives
// (internal/ingress/controller, whose packages are internal) and builds the package's tests with
// `go test -c -tags adoptmesh_oracle` into .build/bin/ingress-nginx-oracle.
//
// Callers run that binary with -test.run '^TestIngressNginxOracle$' and three variables:
//
//	INGRESS_NGINX_ORACLE_INPUT:    [{"id", "objects": [<Kubernetes objects as JSON>], "configmap": {<controller ConfigMap data>}}]
//	INGRESS_NGINX_ORACLE_OUTPUT:   [{"id", "error", "ingresses", "configuration", "nginx_conf", "certificate_hosts", "warnings"}]
//	INGRESS_NGINX_ORACLE_TEMPLATE: the module's rootfs/etc/nginx/template/nginx.tmpl
//
// Every case gets a store of its own (the controller's informers over a fake clientset holding the
// objects), so annotation parsing, validation, class filtering and Secret handling are the
// controller's; getConfiguration builds the servers, locations and backends, and generateTemplate
// renders the nginx.conf the controller would load. What the controller hands its Lua code instead
// of nginx.conf (backends with their canary traffic shaping, the hosts that have a certificate) is
// in "configuration" and "certificate_hosts".
//
// The controller writes certificates under /etc/ingress-controller; the caller runs this binary in
// a mount namespace with a private tmpfs there (tests/integration/nginx_oracle.py).
package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime/debug"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/eapache/channels"
	corev1 "k8s.io/api/core/v1"
	networking "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"

	ngx_cfg "k8s.io/ingress-nginx/internal/ingress/controller/config"
	"k8s.io/ingress-nginx/internal/ingress/controller/ingressclass"
	"k8s.io/ingress-nginx/internal/ingress/controller/store"
	ngx_template "k8s.io/ingress-nginx/internal/ingress/controller/template"
	"k8s.io/ingress-nginx/internal/ingress/metric"
	"k8s.io/ingress-nginx/internal/k8s"
	"k8s.io/ingress-nginx/internal/net/dns"
	"k8s.io/ingress-nginx/internal/net/ssl"
	"k8s.io/ingress-nginx/pkg/apis/ingress"
	"k8s.io/ingress-nginx/pkg/util/file"
	utilingress "k8s.io/ingress-nginx/pkg/util/ingress"
)

var oracleClassName = "nginx"

const (
	oracleNamespace         = "ingress-nginx"
	oracleConfigMapName     = "ingress-nginx-controller"
	oracleSentinelNamespace = "adoptmesh-oracle-sentinel"
	oracleSettleTimeout     = 60 * time.Second
	// Store starts are mostly waiting (the controller sleeps a second before reading Ingresses), so
	// many run at once.
	oracleParallel = 32
)

type oracleCase struct {
	ID        string            `json:"id"`
	Objects   []json.RawMessage `json:"objects"`
	ConfigMap map[string]string `json:"configmap"`
}

type oracleAnswer struct {
	ID    string `json:"id"`
	Error string `json:"error,omitempty"`
	// The Ingresses the store accepted (class, validation), as namespace/name.
	Ingresses []string `json:"ingresses"`
	// What the controller would run: servers and locations for nginx.conf, backends for Lua.
	Configuration *ingress.Configuration `json:"configuration,omitempty"`
	NginxConf     string                 `json:"nginx_conf,omitempty"`
	// Host names that Lua's certificate table holds a certificate for (configureCertificates):
	// ssl-redirect applies only to those.
	CertificateHosts []string `json:"certificate_hosts"`
	// The admission warnings (CheckWarning) per Ingress.
	Warnings map[string][]string `json:"warnings"`
	// The files under /etc/ingress-controller/auth that nginx.conf names (htpasswd files of basic auth).
	Files map[string]string `json:"files"`
}

var authFilePattern = regexp.MustCompile(`/etc/ingress-controller/auth/[^;\s"']+`)

func TestIngressNginxOracle(t *testing.T) {
	input, output := os.Getenv("INGRESS_NGINX_ORACLE_INPUT"), os.Getenv("INGRESS_NGINX_ORACLE_OUTPUT")
	templatePath := os.Getenv("INGRESS_NGINX_ORACLE_TEMPLATE")
	if input == "" || output == "" || templatePath == "" {
		t.Skip("set INGRESS_NGINX_ORACLE_INPUT, INGRESS_NGINX_ORACLE_OUTPUT and INGRESS_NGINX_ORACLE_TEMPLATE")
	}
	klog.LogToStderr(false)
	klog.SetOutput(os.Stderr)
	raw, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	var cases []oracleCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("input: %v", err)
	}
	if err := file.CreateRequiredDirectories(); err != nil {
		t.Fatal(err)
	}
	k8s.IngressPodDetails = &k8s.PodInfo{ObjectMeta: metav1.ObjectMeta{
		Name: "ingress-nginx-controller-0", Namespace: oracleNamespace,
		Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}}
	template, err := ngx_template.NewTemplate(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := dns.GetSystemNameServers()
	if err != nil {
		resolver = []net.IP{net.ParseIP("127.0.0.1")}
	}
	fakeCertificate := ssl.GetFakeSSLCert()

	answers := make([]oracleAnswer, len(cases))
	slots := make(chan struct{}, oracleParallel)
	var wg sync.WaitGroup
	for index := range cases {
		wg.Add(1)
		slots <- struct{}{}
		go func(index int) {
			defer wg.Done()
			defer func() { <-slots }()
			answers[index] = answerCase(cases[index], template, resolver, fakeCertificate)
		}(index)
	}
	wg.Wait()
	encoded, err := json.Marshal(answers)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(output, encoded, 0o600); err != nil {
		t.Fatal(err)
	}
}

func answerCase(c oracleCase, template ngx_template.Writer, resolver []net.IP, fakeCertificate *ingress.SSLCert) (answer oracleAnswer) {
	answer.ID = c.ID
	defer func() {
		if failure := recover(); failure != nil {
			answer = oracleAnswer{ID: c.ID, Error: fmt.Sprintf("controller panicked: %v\n%s", failure, debug.Stack())}
		}
	}()
	objects := []runtime.Object{&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: oracleConfigMapName, Namespace: oracleNamespace},
		Data:       c.ConfigMap}}
	decoder := scheme.Codecs.UniversalDeserializer()
	for index, raw := range c.Objects {
		object, _, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			answer.Error = fmt.Sprintf("object %d: %v", index, err)
			return answer
		}
		objects = append(objects, object)
	}
	client := fake.NewSimpleClientset(objects...)
	classes := &ingressclass.Configuration{Controller: ingressclass.DefaultControllerName, AnnotationValue: ingressclass.DefaultAnnotationValue}
	stop := make(chan struct{})
	defer close(stop)
	storer := store.New("", labels.Everything(), oracleNamespace+"/"+oracleConfigMapName, "", "", "",
		10*time.Minute, client, channels.NewRingChannel(1024), false, true, classes, true)
	storer.Run(stop)
	ingresses, err := settle(client, storer)
	if err != nil {
		answer.Error = err.Error()
		return answer
	}

	controller := &NGINXController{
		cfg: &Configuration{
			Client: client, FakeCertificate: fakeCertificate, IngressClassConfiguration: classes,
			ListenPorts: &ngx_cfg.ListenPorts{HTTP: 80, HTTPS: 443, Health: 10254, Default: 8181, SSLProxy: 442},
		},
		store: storer, t: template, resolver: resolver, metricCollector: metric.DummyCollector{},
		command: NewNginxCommand(),
	}
	_, servers, configuration := controller.getConfiguration(ingresses)
	backend := storer.GetBackendConfiguration()
	backend.Resolver = resolver
	rendered, err := controller.generateTemplate(backend, *configuration)
	if err != nil {
		answer.Error = fmt.Sprintf("rendering nginx.conf: %v", err)
		return answer
	}
	answer.Configuration = configuration
	answer.NginxConf = string(rendered)
	answer.CertificateHosts = certificateHosts(servers)
	answer.Files = map[string]string{}
	for _, path := range authFilePattern.FindAllString(answer.NginxConf, -1) {
		if data, err := os.ReadFile(path); err == nil {
			answer.Files[path] = string(data)
		}
	}
	answer.Warnings = map[string][]string{}
	for _, accepted := range ingresses {
		key := accepted.Namespace + "/" + accepted.Name
		answer.Ingresses = append(answer.Ingresses, key)
		if warnings, err := controller.CheckWarning(&accepted.Ingress); err == nil && len(warnings) > 0 {
			answer.Warnings[key] = warnings
		}
	}
	sort.Strings(answer.Ingresses)
	return answer
}

// settle waits until the store's Ingress handler has seen every Ingress: informers hand objects to
// handlers after reporting themselves synced, one at a time and in order, so an Ingress created
// now is handled after all the others. It is left out of what the controller is given.
func settle(client *fake.Clientset, storer store.Storer) ([]*ingress.Ingress, error) {
	sentinel := &networking.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "sentinel", Namespace: oracleSentinelNamespace},
		Spec:       networking.IngressSpec{IngressClassName: &oracleClassName},
	}
	if _, err := client.NetworkingV1().Ingresses(oracleSentinelNamespace).Create(context.TODO(), sentinel, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(oracleSettleTimeout)
	for time.Now().Before(deadline) {
		all := storer.ListIngresses()
		ingresses := make([]*ingress.Ingress, 0, len(all))
		seen := false
		for _, candidate := range all {
			if candidate.Namespace == oracleSentinelNamespace {
				seen = true
			} else {
				ingresses = append(ingresses, candidate)
			}
		}
		if seen {
			return ingresses, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("the store did not handle the Ingresses within %v", oracleSettleTimeout)
}

// certificateHosts is what configureCertificates sends Lua's certificate table, as the set of host
// names with a certificate: the servers' own, their aliases whose name the certificate covers, and
// the from-to-www redirects.
func certificateHosts(servers []*ingress.Server) []string {
	hosts := map[string]bool{}
	for _, server := range servers {
		if server.SSLCert != nil {
			hosts[server.Hostname] = true
		}
		for _, alias := range server.Aliases {
			if server.SSLCert != nil && ssl.IsValidHostname(alias, server.SSLCert.CN) {
				hosts[alias] = true
			}
		}
	}
	for _, redirect := range utilingress.BuildRedirects(servers) {
		if redirect.SSLCert != nil {
			hosts[redirect.From] = true
		}
	}
	names := make([]string, 0, len(hosts))
	for name := range hosts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
