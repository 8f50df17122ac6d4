//go:build adoptmesh_oracle

// ingress-nginx's own list of annotations: every parser the controller's annotation extractor
// runs, with the fields it documents (name, aliases, scope, risk, and the validator applied to
// the value). The translation's decision table (plugins/module_utils/ingress_annotation_decisions.py)
// is checked against it, so an annotation ingress-nginx reads cannot be left without a decision.
//
// Callers run the oracle binary with -test.run '^TestIngressNginxAnnotations$' and
// INGRESS_NGINX_ANNOTATIONS_OUTPUT naming the JSON file to write:
//
//	[{"name", "parser", "aliases", "scope", "risk", "validator", "documentation"}]
package controller

import (
	"encoding/json"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"k8s.io/ingress-nginx/internal/ingress/annotations"
	"k8s.io/ingress-nginx/internal/ingress/annotations/parser"
)

type annotationEntry struct {
	Name          string   `json:"name"`
	Parser        string   `json:"parser"`
	Aliases       []string `json:"aliases"`
	Scope         string   `json:"scope"`
	Risk          string   `json:"risk"`
	Validator     string   `json:"validator"`
	Documentation string   `json:"documentation"`
}

// extractorParsers reads the extractor's parser map. The field is unexported; reading it is the
// only way to get the controller's own list rather than a copy of it made here.
func extractorParsers(extractor *annotations.Extractor) map[string]parser.IngressAnnotation {
	field := reflect.ValueOf(extractor).Elem().Field(0)
	return reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem().Interface().(map[string]parser.IngressAnnotation)
}

var riskNames = map[parser.AnnotationRisk]string{
	parser.AnnotationRiskLow: "low", parser.AnnotationRiskMedium: "medium",
	parser.AnnotationRiskHigh: "high", parser.AnnotationRiskCritical: "critical",
}

func functionName(function interface{}) string {
	if function == nil {
		return ""
	}
	name := runtime.FuncForPC(reflect.ValueOf(function).Pointer()).Name()
	return strings.TrimPrefix(name, "k8s.io/ingress-nginx/internal/ingress/annotations/")
}

func TestIngressNginxAnnotations(t *testing.T) {
	output := os.Getenv("INGRESS_NGINX_ANNOTATIONS_OUTPUT")
	if output == "" {
		t.Skip("set INGRESS_NGINX_ANNOTATIONS_OUTPUT")
	}
	extractor := annotations.NewAnnotationExtractor(nil)
	entries := []annotationEntry{}
	for parserName, annotationParser := range extractorParsers(&extractor) {
		for name, field := range annotationParser.GetDocumentation() {
			aliases := append([]string{}, field.AnnotationAliases...)
			sort.Strings(aliases)
			entries = append(entries, annotationEntry{
				Name: name, Parser: parserName, Aliases: aliases, Scope: string(field.Scope),
				Risk: riskNames[field.Risk], Validator: functionName(field.Validator),
				Documentation: field.Documentation,
			})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	raw, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(output, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}
