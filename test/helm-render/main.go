// helm-render: a stand-in for `helm template`, used by the chart's tests where no helm
// binary can be installed. It renders a chart directory the way helm 3 does: Go's
// text/template with the sprig function library and helm's own functions, values from
// values.yaml, -f files and --set coalesced as helm coalesces them, subcharts from charts/
// with their dependency conditions, `.Capabilities`, `.Release`, `.Chart`, partials
// (`_*.tpl`) parsed but not emitted, NOTES.txt rendered and dropped, and every document
// parsed as YAML and printed in helm's install order with a `# Source:` line.
//
// It is built offline from Debian's packages (golang-go, golang-github-masterminds-sprig-dev,
// golang-gopkg-yaml.v2-dev) in GOPATH mode with GOPATH including /usr/share/gocode, which is
// why the imports below carry no /v3 suffix. What it follows, to be opened by a reader:
//   - helm's engine (pkg/engine/engine.go, funcs.go): function map, include/tpl/required,
//     missingkey=zero and "<no value>" removal, partials, template naming;
//   - helm's values (pkg/chartutil/values.go, coalesce.go): YAML read through JSON (every
//     number a float64, as sigs.k8s.io/yaml does), user values over chart defaults, null
//     deleting a default, subchart values under the subchart's name, globals copied down;
//   - helm's strvals (pkg/strvals/parser.go) for --set, reduced to what charts use:
//     a.b=c, a[0]=c, {a,b} lists, \, and \. escapes, int64/bool/null typing (--set-string: none);
//   - helm's releaseutil (pkg/releaseutil/manifest.go, kind_sorter.go): document split,
//     empty documents dropped, install order by kind.
//
// Not implemented (the chart uses none): toToml, .Files.Glob/AsConfig/AsSecrets, import-values,
// tags, packaged (.tgz) subcharts, library charts, --set-file, --set-json.
//
// Usage: helm-render template NAME CHART [-f FILE]... [--set K=V]... [--set-string K=V]...
//
//	[--namespace NS] [--kube-version V] [--api-versions G/V]... [--values-out FILE]
//
// --values-out writes the coalesced values of the chart and of each enabled subchart (keyed by
// the chart's path, e.g. "parent" and "parent/charts/sub") as JSON, for a schema check.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/ioutil"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

// ---- chart model ----------------------------------------------------------------------

type Dependency struct {
	Name       string        `yaml:"name" json:"name"`
	Version    string        `yaml:"version" json:"version,omitempty"`
	Repository string        `yaml:"repository" json:"repository,omitempty"`
	Condition  string        `yaml:"condition" json:"condition,omitempty"`
	Tags       []string      `yaml:"tags" json:"tags,omitempty"`
	Alias      string        `yaml:"alias" json:"alias,omitempty"`
	Import     []interface{} `yaml:"import-values" json:"import-values,omitempty"`
}

// Metadata has the field names templates see as .Chart.Name, .Chart.AppVersion, ...
type Metadata struct {
	APIVersion   string            `yaml:"apiVersion" json:"apiVersion"`
	Name         string            `yaml:"name" json:"name"`
	Version      string            `yaml:"version" json:"version"`
	KubeVersion  string            `yaml:"kubeVersion" json:"kubeVersion,omitempty"`
	Description  string            `yaml:"description" json:"description,omitempty"`
	Type         string            `yaml:"type" json:"type,omitempty"`
	Keywords     []string          `yaml:"keywords" json:"keywords,omitempty"`
	Home         string            `yaml:"home" json:"home,omitempty"`
	Sources      []string          `yaml:"sources" json:"sources,omitempty"`
	Icon         string            `yaml:"icon" json:"icon,omitempty"`
	AppVersion   string            `yaml:"appVersion" json:"appVersion,omitempty"`
	Deprecated   bool              `yaml:"deprecated" json:"deprecated,omitempty"`
	Annotations  map[string]string `yaml:"annotations" json:"annotations,omitempty"`
	Dependencies []*Dependency     `yaml:"dependencies" json:"dependencies,omitempty"`
}

type Chart struct {
	Meta      Metadata
	Values    map[string]interface{}
	Templates []namedFile // names relative to the chart: templates/x.yaml
	Files     Files       // every other file, for .Files.Get
	Deps      []*Chart
	parent    *Chart
}

type namedFile struct {
	name string
	data []byte
}

func (c *Chart) IsRoot() bool { return c.parent == nil }

// FullPath is helm's ChartFullPath: parent/charts/sub.
func (c *Chart) FullPath() string {
	if c.parent == nil {
		return c.Meta.Name
	}
	return c.parent.FullPath() + "/charts/" + c.Meta.Name
}

// Files is .Files: Get returns a file's content or "".
type Files map[string][]byte

func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) GetBytes(name string) []byte { return f[name] }

func loadChart(dir string, parent *Chart) (*Chart, error) {
	raw, err := ioutil.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml file is missing in %s", dir)
	}
	c := &Chart{parent: parent, Files: Files{}}
	if err := yaml.UnmarshalStrict(raw, &c.Meta); err != nil {
		return nil, fmt.Errorf("cannot load Chart.yaml of %s: %v", dir, err)
	}
	if c.Meta.APIVersion == "" {
		return nil, fmt.Errorf("%s: Chart.yaml: apiVersion is required", dir)
	}
	if c.Meta.Name == "" {
		return nil, fmt.Errorf("%s: Chart.yaml: name is required", dir)
	}
	if _, err := semver.StrictNewVersion(c.Meta.Version); err != nil {
		return nil, fmt.Errorf("%s: Chart.yaml: version %q is not a valid SemVerV2", dir, c.Meta.Version)
	}
	if c.Meta.Type == "library" {
		return nil, errors.New("library charts are not implemented by helm-render")
	}
	c.Values = map[string]interface{}{}
	if raw, err := ioutil.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if c.Values, err = readValues(raw); err != nil {
			return nil, fmt.Errorf("cannot load values.yaml of %s: %v", dir, err)
		}
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == "charts" {
				return filepath.SkipDir // loaded below, as charts
			}
			return nil
		}
		data, err := ioutil.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			c.Templates = append(c.Templates, namedFile{rel, data})
		} else {
			c.Files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	entries, _ := ioutil.ReadDir(filepath.Join(dir, "charts"))
	byName := map[string]*Chart{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tgz") {
			return nil, fmt.Errorf("%s: packaged subcharts (%s) are not implemented by helm-render", dir, e.Name())
		}
		sub := filepath.Join(dir, "charts", e.Name())
		if st, err := os.Stat(sub); err != nil || !st.IsDir() { // follows symlinks
			continue
		}
		d, err := loadChart(sub, c)
		if err != nil {
			return nil, err
		}
		byName[d.Meta.Name] = d
	}
	for _, dep := range c.Meta.Dependencies {
		d, ok := byName[dep.Name]
		if !ok {
			return nil, fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s", dep.Name)
		}
		if len(dep.Import) > 0 || len(dep.Tags) > 0 {
			return nil, fmt.Errorf("%s: import-values and tags are not implemented by helm-render", dep.Name)
		}
		if dep.Version != "" {
			constraint, err := semver.NewConstraint(dep.Version)
			if err != nil {
				return nil, fmt.Errorf("dependency %s: invalid version constraint %q", dep.Name, dep.Version)
			}
			if v, _ := semver.NewVersion(d.Meta.Version); !constraint.Check(v) {
				return nil, fmt.Errorf("dependency %s: charts/ holds version %s, Chart.yaml asks for %s", dep.Name, d.Meta.Version, dep.Version)
			}
		}
		if dep.Alias != "" {
			d.Meta.Name = dep.Alias
		}
	}
	// Charts in charts/ that no dependency names are still subcharts (helm loads them all).
	for _, d := range byName {
		c.Deps = append(c.Deps, d)
	}
	sort.Slice(c.Deps, func(i, j int) bool { return c.Deps[i].Meta.Name < c.Deps[j].Meta.Name })
	return c, nil
}

// ---- values ------------------------------------------------------------------------------

// readValues reads YAML the way sigs.k8s.io/yaml does: YAML to JSON, then JSON to Go values,
// so every number is a float64 and every map key a string.
func readValues(data []byte) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	j, err := json.Marshal(toJSONable(raw))
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("values are not a map: %v", err)
	}
	return out, nil
}

func readYAMLArray(data []byte) ([]interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	j, err := json.Marshal(toJSONable(raw))
	if err != nil {
		return nil, err
	}
	var out []interface{}
	return out, json.Unmarshal(j, &out)
}

func toJSONable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = toJSONable(x)
		}
		return m
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = toJSONable(x)
		}
		return out
	default:
		return v
	}
}

func istable(v interface{}) bool {
	_, ok := v.(map[string]interface{})
	return ok
}

// mergeMaps merges -f files: later files win, maps merge deeply (helm's cli/values).
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if bv, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(bv, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	default:
		return v
	}
}

var warnings []string

// coalesce puts the chart's defaults under the user's values, then does the same for each
// subchart with the values under its name (helm's chartutil.coalesce).
func coalesce(c *Chart, dest map[string]interface{}) {
	coalesceValues(c, dest)
	for _, sub := range c.Deps {
		if v, ok := dest[sub.Meta.Name]; !ok || v == nil {
			dest[sub.Meta.Name] = map[string]interface{}{}
		} else if !istable(v) {
			warnings = append(warnings, fmt.Sprintf("%s: value for subchart is not a table, replaced", sub.Meta.Name))
			dest[sub.Meta.Name] = map[string]interface{}{}
		}
		sv := dest[sub.Meta.Name].(map[string]interface{})
		coalesceGlobals(sv, dest)
		coalesce(sub, sv)
	}
}

func coalesceValues(c *Chart, v map[string]interface{}) {
	for key, val := range deepCopy(c.Values).(map[string]interface{}) {
		if value, ok := v[key]; ok {
			if value == nil {
				delete(v, key)
			} else if dest, ok := value.(map[string]interface{}); ok {
				if src, ok := val.(map[string]interface{}); ok {
					coalesceTables(dest, src)
				} else if val != nil {
					warnings = append(warnings, fmt.Sprintf("%s: skipped value for %s: Not a table.", c.Meta.Name, key))
				}
			} else if istable(val) {
				warnings = append(warnings, fmt.Sprintf("%s: destination for %s is a table. Ignoring non-table value (%v)", c.Meta.Name, key, value))
			}
		} else {
			v[key] = val
		}
	}
}

func coalesceTables(dst, src map[string]interface{}) {
	for key, val := range src {
		dv, ok := dst[key]
		if ok && dv == nil {
			delete(dst, key)
		} else if !ok {
			dst[key] = val
		} else if istable(val) {
			if istable(dv) {
				coalesceTables(dv.(map[string]interface{}), val.(map[string]interface{}))
			}
		}
	}
}

func coalesceGlobals(dest, src map[string]interface{}) {
	dg, _ := dest["global"].(map[string]interface{})
	if dg == nil {
		dg = map[string]interface{}{}
	}
	sg, _ := src["global"].(map[string]interface{})
	for key, val := range sg {
		if vm, ok := val.(map[string]interface{}); ok {
			if dvm, ok := dg[key].(map[string]interface{}); ok {
				coalesceTables(dvm, deepCopy(vm).(map[string]interface{}))
			} else {
				dg[key] = deepCopy(vm)
			}
		} else {
			dg[key] = val
		}
	}
	dest["global"] = dg
}

// pathValue reads a.b.c from values; ok is false when any part is missing.
func pathValue(v map[string]interface{}, p string) (interface{}, bool) {
	parts := strings.Split(p, ".")
	var cur interface{} = v
	for _, k := range parts {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// dropDisabled removes subcharts whose condition is false (helm's processDependencyConditions):
// the first condition path that holds a boolean decides; none found keeps the subchart.
func dropDisabled(c *Chart, vals map[string]interface{}, prefix string) {
	kept := c.Deps[:0]
	for _, sub := range c.Deps {
		enabled := true
		for _, dep := range c.Meta.Dependencies {
			if (dep.Alias != "" && dep.Alias == sub.Meta.Name) || (dep.Alias == "" && dep.Name == sub.Meta.Name) {
				for _, cond := range strings.Split(dep.Condition, ",") {
					cond = strings.TrimSpace(cond)
					if cond == "" {
						continue
					}
					if b, ok := pathValue(vals, prefix+cond); ok {
						if bv, isBool := b.(bool); isBool {
							enabled = bv
							break
						}
						warnings = append(warnings, fmt.Sprintf("condition path '%s' for chart %s returned non-bool value", cond, sub.Meta.Name))
					}
				}
			}
		}
		if enabled {
			kept = append(kept, sub)
			dropDisabled(sub, vals, prefix+sub.Meta.Name+".")
		}
	}
	c.Deps = kept
}

// ---- --set (a subset of helm's strvals) --------------------------------------------------

func parseSet(s string, dest map[string]interface{}, asString bool) error {
	for _, pair := range splitUnescaped(s, ',', true) {
		if pair == "" {
			continue
		}
		eq := indexUnescaped(pair, '=')
		if eq < 0 {
			return fmt.Errorf("key %q has no value", pair)
		}
		key, raw := pair[:eq], pair[eq+1:]
		var val interface{}
		if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			list := []interface{}{}
			for _, item := range splitUnescaped(raw[1:len(raw)-1], ',', false) {
				list = append(list, typed(unescape(item), asString))
			}
			val = list
		} else {
			val = typed(unescape(raw), asString)
		}
		if err := setPath(dest, splitUnescaped(key, '.', false), val); err != nil {
			return fmt.Errorf("--set %s: %v", pair, err)
		}
	}
	return nil
}

var indexRe = regexp.MustCompile(`^(.*?)\[(\d+)\]$`)

func setPath(m map[string]interface{}, keys []string, val interface{}) error {
	k := unescape(keys[0])
	idx := -1
	if g := indexRe.FindStringSubmatch(k); g != nil {
		k = g[1]
		idx, _ = strconv.Atoi(g[2])
		if idx > 65536 {
			return fmt.Errorf("index %d is too large", idx)
		}
	}
	last := len(keys) == 1
	if idx < 0 {
		if last {
			m[k] = val
			return nil
		}
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		return setPath(next, keys[1:], val)
	}
	list, _ := m[k].([]interface{})
	for len(list) <= idx {
		list = append(list, nil)
	}
	if last {
		list[idx] = val
	} else {
		next, ok := list[idx].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			list[idx] = next
		}
		if err := setPath(next, keys[1:], val); err != nil {
			return err
		}
	}
	m[k] = list
	return nil
}

func typed(s string, asString bool) interface{} {
	if asString {
		return s
	}
	switch {
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	case s == "0":
		return int64(0)
	case s == "" || s[0] == '0': // strvals: a leading zero keeps a string ("0123")
		return s
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	return s
}

// splitUnescaped splits on sep outside backslash escapes (and, for top-level pairs, outside {}).
func splitUnescaped(s string, sep byte, braces bool) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			cur.WriteByte(ch)
			cur.WriteByte(s[i+1])
			i++
		case braces && ch == '{':
			depth++
			cur.WriteByte(ch)
		case braces && ch == '}':
			depth--
			cur.WriteByte(ch)
		case ch == sep && depth == 0:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(out, cur.String())
}

func indexUnescaped(s string, ch byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
		} else if s[i] == ch {
			return i
		}
	}
	return -1
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ---- capabilities, release -----------------------------------------------------------------

type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k *KubeVersion) String() string     { return k.Version }
func (k *KubeVersion) GitVersion() string { return k.Version }

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
	HelmVersion map[string]string
}

// The built-in groups of a cluster; CRD groups come from --api-versions, as with helm.
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"coordination.k8s.io/v1", "discovery.k8s.io/v1", "apiextensions.k8s.io/v1",
	"admissionregistration.k8s.io/v1", "scheduling.k8s.io/v1", "node.k8s.io/v1",
	"certificates.k8s.io/v1", "events.k8s.io/v1",
}

func parseKubeVersion(s string) (KubeVersion, error) {
	v, err := semver.NewVersion(s)
	if err != nil {
		return KubeVersion{}, fmt.Errorf("invalid kube version %q: %v", s, err)
	}
	return KubeVersion{Version: "v" + v.String(), Major: strconv.FormatUint(v.Major(), 10), Minor: strconv.FormatUint(v.Minor(), 10)}, nil
}

// ---- engine ---------------------------------------------------------------------------------

type renderable struct {
	tpl      string
	vals     map[string]interface{}
	basePath string
}

const recursionMax = 1000

func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml": func(v interface{}) string {
			j, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			var obj interface{}
			if err := yaml.Unmarshal(j, &obj); err != nil {
				return ""
			}
			out, err := yaml.Marshal(obj)
			if err != nil {
				return ""
			}
			return strings.TrimSuffix(string(out), "\n")
		},
		"fromYaml": func(s string) map[string]interface{} {
			m, err := readValues([]byte(s))
			if err != nil {
				return map[string]interface{}{"Error": err.Error()}
			}
			return m
		},
		"fromYamlArray": func(s string) []interface{} {
			a, err := readYAMLArray([]byte(s))
			if err != nil {
				return []interface{}{err.Error()}
			}
			return a
		},
		"toJson": func(v interface{}) string {
			j, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			return string(j)
		},
		"fromJson": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"fromJsonArray": func(s string) []interface{} {
			a := []interface{}{}
			if err := json.Unmarshal([]byte(s), &a); err != nil {
				a = []interface{}{err.Error()}
			}
			return a
		},
		// Bound to the template set in render(); declared here so parsing accepts them.
		"include": func(string, interface{}) string { return "not implemented" },
		"tpl":     func(string, interface{}) interface{} { return "not implemented" },
		"required": func(warn string, val interface{}) (interface{}, error) {
			if val == nil {
				return val, errors.New(warn)
			}
			if s, ok := val.(string); ok && s == "" {
				return val, errors.New(warn)
			}
			return val, nil
		},
		// No cluster: lookup finds nothing, as with `helm template`.
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func includeFun(t *template.Template, included map[string]int) func(string, interface{}) (string, error) {
	return func(name string, data interface{}) (string, error) {
		if included[name] > recursionMax {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		included[name]++
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		included[name]--
		return buf.String(), err
	}
}

func tplFun(parent *template.Template, included map[string]int) func(string, interface{}) (string, error) {
	return func(text string, vals interface{}) (string, error) {
		t, err := parent.Clone()
		if err != nil {
			return "", err
		}
		t.Option("missingkey=zero")
		t.Funcs(template.FuncMap{"include": includeFun(t, included), "tpl": tplFun(t, included)})
		t, err = t.New(parent.Name()).Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %v", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
}

// allTemplates is helm's recAllTpls: every chart's templates under its full path, each with
// the scope it renders in (its own .Values, .Chart; the release's .Release, .Capabilities).
func allTemplates(c *Chart, out map[string]renderable, parentVals map[string]interface{}) map[string]interface{} {
	subcharts := map[string]interface{}{}
	next := map[string]interface{}{
		"Chart": struct {
			Metadata
			IsRoot bool
		}{c.Meta, c.IsRoot()},
		"Files":        c.Files,
		"Release":      parentVals["Release"],
		"Capabilities": parentVals["Capabilities"],
		"Values":       map[string]interface{}{},
		"Subcharts":    subcharts,
	}
	if c.IsRoot() {
		next["Values"] = parentVals["Values"]
	} else if pv, ok := parentVals["Values"].(map[string]interface{}); ok {
		if sv, ok := pv[c.Meta.Name].(map[string]interface{}); ok {
			next["Values"] = sv
		}
	}
	for _, sub := range c.Deps {
		subcharts[sub.Meta.Name] = allTemplates(sub, out, next)
	}
	for _, t := range c.Templates {
		out[path.Join(c.FullPath(), t.name)] = renderable{tpl: string(t.data), vals: next, basePath: path.Join(c.FullPath(), "templates")}
	}
	return next
}

// sortTemplates: deeper paths (subcharts) first, then by name, so a parent's define wins
// over a subchart's of the same name, as in helm.
func sortTemplates(tpls map[string]renderable) []string {
	keys := make([]string, 0, len(tpls))
	for k := range tpls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := strings.Count(keys[i], "/"), strings.Count(keys[j], "/")
		if a != b {
			return a > b
		}
		return keys[i] < keys[j]
	})
	return keys
}

func render(tpls map[string]renderable) (map[string]string, error) {
	t := template.New("gotpl")
	t.Option("missingkey=zero")
	included := map[string]int{}
	t.Funcs(funcMap())
	t.Funcs(template.FuncMap{"include": includeFun(t, included), "tpl": tplFun(t, included)})
	keys := sortTemplates(tpls)
	for _, name := range keys {
		if _, err := t.New(name).Parse(tpls[name].tpl); err != nil {
			return nil, fmt.Errorf("parse error in %s: %v", name, err)
		}
	}
	rendered := map[string]string{}
	for _, name := range keys {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := tpls[name].vals
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": tpls[name].basePath}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			return nil, fmt.Errorf("execution error in %s: %v", name, err)
		}
		rendered[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return rendered, nil
}

// ---- manifests --------------------------------------------------------------------------------

// helm's releaseutil.InstallOrder.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

var sep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

type manifest struct {
	source  string
	content string
	kind    string
	name    string
}

func manifests(rendered map[string]string) ([]manifest, error) {
	names := make([]string, 0, len(rendered))
	for k := range rendered {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []manifest
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue // rendered (so its errors count), never installed
		}
		for _, doc := range sep.Split(rendered[name], -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			doc = strings.TrimSpace(doc)
			var head struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return nil, fmt.Errorf("YAML parse error on %s: %v", name, err)
			}
			out = append(out, manifest{source: name, content: doc, kind: head.Kind, name: head.Metadata.Name})
		}
	}
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	order := func(k string) int {
		if r, ok := rank[k]; ok {
			return r
		}
		return len(installOrder)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := order(out[i].kind), order(out[j].kind)
		if a != b {
			return a < b
		}
		if a == len(installOrder) && out[i].kind != out[j].kind {
			return out[i].kind < out[j].kind
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// ---- main -------------------------------------------------------------------------------------

var releaseNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func collectValues(c *Chart, vals map[string]interface{}, out map[string]interface{}) {
	out[c.FullPath()] = vals
	for _, sub := range c.Deps {
		if sv, ok := vals[sub.Meta.Name].(map[string]interface{}); ok {
			collectValues(sub, sv, out)
		}
	}
}

func run(args []string) error {
	if len(args) < 1 || args[0] != "template" {
		return errors.New("usage: helm-render template NAME CHART [-f FILE]... [--set K=V]... [--set-string K=V]... [--namespace NS] [--kube-version V] [--api-versions G/V]... [--values-out FILE]")
	}
	var positional, files, apiVersions []string
	type setArg struct {
		s        string
		asString bool
	}
	var sets []setArg
	namespace, kubeVersion, valuesOut := "default", "v1.31.0", ""
	for i := 1; i < len(args); i++ {
		a := args[i]
		needValue := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch a {
		case "-f", "--values":
			v, err = needValue()
			files = append(files, v)
		case "--set":
			v, err = needValue()
			sets = append(sets, setArg{v, false})
		case "--set-string":
			v, err = needValue()
			sets = append(sets, setArg{v, true})
		case "-n", "--namespace":
			namespace, err = needValue()
		case "--kube-version":
			kubeVersion, err = needValue()
		case "-a", "--api-versions":
			v, err = needValue()
			apiVersions = append(apiVersions, v)
		case "--values-out":
			valuesOut, err = needValue()
		default:
			if strings.HasPrefix(a, "-") {
				return fmt.Errorf("unknown flag %s", a)
			}
			positional = append(positional, a)
		}
		if err != nil {
			return err
		}
	}
	if len(positional) != 2 {
		return errors.New("expected NAME and CHART")
	}
	releaseName, chartDir := positional[0], positional[1]
	// helm's chartutil.ValidateReleaseName: a DNS name of at most 53 characters.
	if len(releaseName) > 53 || !releaseNameRe.MatchString(releaseName) {
		return fmt.Errorf("invalid release name %q: names must be DNS names of at most 53 characters", releaseName)
	}
	kv, err := parseKubeVersion(kubeVersion)
	if err != nil {
		return err
	}
	chart, err := loadChart(chartDir, nil)
	if err != nil {
		return err
	}
	if chart.Meta.KubeVersion != "" {
		constraint, err := semver.NewConstraint(chart.Meta.KubeVersion)
		if err != nil {
			return fmt.Errorf("Chart.yaml: invalid kubeVersion %q: %v", chart.Meta.KubeVersion, err)
		}
		v, _ := semver.NewVersion(kv.Version)
		if !constraint.Check(v) {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", chart.Meta.KubeVersion, kv.Version)
		}
	}
	user := map[string]interface{}{}
	for _, f := range files {
		raw, err := ioutil.ReadFile(f)
		if err != nil {
			return err
		}
		v, err := readValues(raw)
		if err != nil {
			return fmt.Errorf("failed to parse %s: %v", f, err)
		}
		user = mergeMaps(user, v)
	}
	// All --set, then all --set-string, whatever their order on the command line (helm's
	// cli/values Options.MergeValues).
	for _, pass := range []bool{false, true} {
		for _, s := range sets {
			if s.asString != pass {
				continue
			}
			if err := parseSet(s.s, user, s.asString); err != nil {
				return fmt.Errorf("failed parsing --set data: %v", err)
			}
		}
	}
	// Conditions are read from the values coalesced with every subchart still present.
	probe := deepCopy(user).(map[string]interface{})
	coalesce(chart, probe)
	dropDisabled(chart, probe, "")
	vals := deepCopy(user).(map[string]interface{})
	coalesce(chart, vals)

	caps := &Capabilities{
		KubeVersion: kv,
		APIVersions: append(append(VersionSet{}, defaultAPIVersions...), apiVersions...),
		HelmVersion: map[string]string{"version": "v3"},
	}
	top := map[string]interface{}{
		"Values":       vals,
		"Capabilities": caps,
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": namespace, "IsUpgrade": false, "IsInstall": true,
			"Revision": 1, "Service": "Helm",
		},
	}
	tpls := map[string]renderable{}
	allTemplates(chart, tpls, top)
	rendered, err := render(tpls)
	if err != nil {
		return err
	}
	docs, err := manifests(rendered)
	if err != nil {
		return err
	}
	if valuesOut != "" {
		all := map[string]interface{}{}
		collectValues(chart, vals, all)
		j, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		if err := ioutil.WriteFile(valuesOut, j, 0o600); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	for _, m := range docs {
		fmt.Fprintf(&buf, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "coalesce.go: warning: %s\n", w)
	}
	_, err = os.Stdout.Write(buf.Bytes())
	return err
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}
