// The reference renderer of the differential tests: Go's text/template with Sprig and Helm's own functions,
// rendering templates the way Helm 3's pkg/engine does (parse order, partials skipped, "<no value>" removed,
// include/tpl/required/fail, toYaml through sigs.k8s.io/yaml). Input and output are JSON on stdin/stdout.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type Metadata struct {
	Name         string            `json:"name,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version,omitempty"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []interface{}     `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

type chartMeta struct {
	Metadata
	IsRoot bool
}

type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (kv *KubeVersion) String() string     { return kv.Version }
func (kv *KubeVersion) GitVersion() string { return kv.Version }

type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

type files map[string][]byte

func (f files) GetBytes(name string) []byte { return f[name] }
func (f files) Get(name string) string      { return string(f[name]) }
func (f files) Glob(pattern string) files {
	nf := files{}
	for name, contents := range f {
		if ok, _ := path.Match(pattern, name); ok {
			nf[name] = contents
		}
	}
	return nf
}
func (f files) AsConfig() string {
	if len(f) == 0 {
		return ""
	}
	m := make(map[string]string)
	for k, v := range f {
		m[path.Base(k)] = string(v)
	}
	return toYAML(m)
}
func (f files) AsSecrets() string {
	if len(f) == 0 {
		return ""
	}
	m := make(map[string]string)
	for k, v := range f {
		m[path.Base(k)] = base64.StdEncoding.EncodeToString(v)
	}
	return toYAML(m)
}
func (f files) Lines(p string) []string {
	if f == nil || f[p] == nil {
		return []string{}
	}
	return strings.Split(string(f[p]), "\n")
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(str string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(str string) map[string]interface{} {
	m := make(map[string]interface{})
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

type input struct {
	Templates []struct {
		Name  string `json:"name"`
		Text  string `json:"text"`
		Chart string `json:"chart"`
	} `json:"templates"`
	Charts map[string]struct {
		Values   map[string]interface{} `json:"values"`
		Metadata Metadata               `json:"metadata"`
		Files    map[string]string      `json:"files"`
		IsRoot   bool                   `json:"isRoot"`
	} `json:"charts"`
	Release     map[string]interface{} `json:"release"`
	KubeVersion string                 `json:"kubeVersion"`
	APIVersions []string               `json:"apiVersions"`
	Strict      bool                   `json:"strict"`
}

type byPathLen []string

func (p byPathLen) Len() int      { return len(p) }
func (p byPathLen) Swap(i, j int) { p[j], p[i] = p[i], p[j] }
func (p byPathLen) Less(i, j int) bool {
	a, b := p[i], p[j]
	ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
	if ca == cb {
		return strings.Compare(a, b) == -1
	}
	return ca < cb
}

func main() {
	// HELMRENDER_REPEAT=N renders N times (parse and execute, as each helm render does) and prints the mean on stderr
	repeat := 1
	if r := os.Getenv("HELMRENDER_REPEAT"); r != "" {
		fmt.Sscan(r, &repeat)
	}
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	var out map[string]string
	for i := 0; i < repeat; i++ {
		out = render(raw)
	}
	if repeat > 1 {
		fmt.Fprintf(os.Stderr, "%.3f ms per render (%d renders)\n", float64(time.Since(start).Microseconds())/1000/float64(repeat), repeat)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"files": out})
}

func render(raw []byte) map[string]string {
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fail(err)
	}
	if v, ok := in.Release["Revision"].(float64); ok {
		in.Release["Revision"] = int(v)
	}
	kv := in.KubeVersion
	parts := strings.Split(strings.TrimPrefix(kv, "v"), ".")
	caps := &Capabilities{KubeVersion: KubeVersion{Version: kv, Major: parts[0], Minor: parts[1]}, APIVersions: in.APIVersions}

	t := template.New("gotpl")
	if in.Strict {
		t.Option("missingkey=error")
	} else {
		t.Option("missingkey=zero")
	}
	includedNames := make(map[string]int)
	funcMap := sprig.TxtFuncMap()
	delete(funcMap, "env")
	delete(funcMap, "expandenv")
	funcMap["toYaml"] = toYAML
	funcMap["fromYaml"] = fromYAML
	funcMap["fromYamlArray"] = fromYAMLArray
	funcMap["toJson"] = toJSON
	funcMap["fromJson"] = fromJSON
	funcMap["lookup"] = func(string, string, string, string) (map[string]interface{}, error) { return map[string]interface{}{}, nil }
	funcMap["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New("HELM_ERR_START" + warn + "HELM_ERR_END")
		} else if s, ok := val.(string); ok && s == "" {
			return val, errors.New("HELM_ERR_START" + warn + "HELM_ERR_END")
		}
		return val, nil
	}
	funcMap["fail"] = func(msg string) (string, error) { return "", errors.New("HELM_ERR_START" + msg + "HELM_ERR_END") }
	var includeFun func(t *template.Template) func(string, interface{}) (string, error)
	var tplFun func(t *template.Template) func(string, interface{}) (string, error)
	includeFun = func(t *template.Template) func(string, interface{}) (string, error) {
		return func(name string, data interface{}) (string, error) {
			var buf strings.Builder
			if v, ok := includedNames[name]; ok {
				if v > 1000 {
					return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
				}
				includedNames[name]++
			} else {
				includedNames[name] = 1
			}
			err := t.ExecuteTemplate(&buf, name, data)
			includedNames[name]--
			return buf.String(), err
		}
	}
	tplFun = func(parent *template.Template) func(string, interface{}) (string, error) {
		return func(tpl string, vals interface{}) (string, error) {
			t, err := parent.Clone()
			if err != nil {
				return "", err
			}
			// as Helm does: Clone drops missingkey (golang/go#43022), so it is set again
			if in.Strict {
				t.Option("missingkey=error")
			} else {
				t.Option("missingkey=zero")
			}
			t.Funcs(template.FuncMap{"include": includeFun(t), "tpl": tplFun(t)})
			t, err = t.New(parent.Name()).Parse(tpl)
			if err != nil {
				return "", fmt.Errorf("cannot parse template %q: %w", tpl, err)
			}
			var buf strings.Builder
			if err := t.Execute(&buf, vals); err != nil {
				return "", fmt.Errorf("error during tpl function execution for %q: %w", tpl, err)
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		}
	}
	funcMap["include"] = includeFun(t)
	funcMap["tpl"] = tplFun(t)
	t.Funcs(funcMap)

	tops := map[string]map[string]interface{}{}
	for name, c := range in.Charts {
		fs := files{}
		for k, v := range c.Files {
			fs[k] = []byte(v)
		}
		values := c.Values
		if values == nil {
			values = map[string]interface{}{}
		}
		tops[name] = map[string]interface{}{
			"Chart":        chartMeta{c.Metadata, c.IsRoot},
			"Files":        fs,
			"Release":      in.Release,
			"Capabilities": caps,
			"Values":       values,
		}
	}
	byName := map[string]string{}
	chartOf := map[string]string{}
	keys := []string{}
	for _, tpl := range in.Templates {
		byName[tpl.Name] = tpl.Text
		chartOf[tpl.Name] = tpl.Chart
		keys = append(keys, tpl.Name)
	}
	sort.Sort(sort.Reverse(byPathLen(keys)))
	for _, name := range keys {
		if _, err := t.New(name).Parse(byName[name]); err != nil {
			fail(err)
		}
	}
	out := map[string]string{}
	for _, name := range keys {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := tops[chartOf[name]]
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": chartOf[name] + "/templates"}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			fail(err)
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out
}

func fail(err error) {
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"error": err.Error()})
	os.Exit(0)
}
