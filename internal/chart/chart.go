// Package chart renders iter8 experiments from Helm-style values through the
// experiment chart (embedded in the binary, or a local chart folder) with the
// Helm SDK: values files, --set, --set-string and --set-file behave exactly as
// in Helm.
package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	helmchart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/strvals"

	"iter8.tools/iter8/charts"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/source"
	"iter8.tools/iter8/internal/tmpl"
	"iter8.tools/iter8/internal/version"
)

// Chart is a loaded experiment chart.
type Chart struct {
	c *helmchart.Chart
}

// experimentTemplate is added to the chart when rendering a local experiment;
// the chart keeps the experiment in a named template so that Kubernetes
// installs can embed it in a Secret.
const experimentTemplate = "templates/experiment.yaml"

// Embedded loads the experiment chart built into the binary.
func Embedded() (*Chart, error) {
	sub, err := fs.Sub(charts.FS, "iter8")
	if err != nil {
		return nil, fmt.Errorf("loading embedded chart: %w", err)
	}
	var files []*archive.BufferedFile
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		files = append(files, &archive.BufferedFile{Name: p, Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading embedded chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading embedded chart: %w", err)
	}
	// The pods run this binary's own version unless iter8Image says
	// otherwise.
	if img, _ := c.Values["iter8Image"].(string); img == "" {
		c.Values["iter8Image"] = version.Image()
	}
	return &Chart{c: c}, nil
}

// Local loads a chart from a folder or archive.
func Local(p string) (*Chart, error) {
	c, err := loader.Load(p)
	if err != nil {
		return nil, inputs.Invalidf("loading chart %s: %v", p, err)
	}
	return &Chart{c: c}, nil
}

// Helm returns the underlying Helm chart (for installs).
func (c *Chart) Helm() *helmchart.Chart { return c.c }

// Values are the user's values flags, as in Helm.
type Values struct {
	Files    []string // -f/--values: paths or http(s) URLs
	Set      []string // --set
	Strings  []string // --set-string
	FromFile []string // --set-file
}

// MaxValuesFile bounds each values file, URL, stdin and --set-file file.
const MaxValuesFile = 16 << 20

// Remote returns the first values file given as an http(s) URL, or "".
func (v Values) Remote() string {
	for _, f := range v.Files {
		if u, err := url.Parse(f); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			return f
		}
	}
	return ""
}

// Merge combines the values flags, files first, in Helm's order and with
// Helm's semantics (later files win, maps merge deeply). Every values file,
// URL and --set-file file is read through r, capped at MaxValuesFile and, for
// URLs, bounded by r's timeout; "-" reads stdin, capped as well.
func (v Values) Merge(ctx context.Context, r source.Reader, stdin io.Reader) (map[string]any, error) {
	r.Max = MaxValuesFile
	read := func(ref string) ([]byte, error) {
		var b []byte
		var err error
		switch {
		case strings.TrimSpace(ref) != "-":
			b, err = r.Read(ctx, "", "", ref)
		case stdin == nil:
			err = errors.New("no standard input to read values from")
		default:
			ref = "standard input"
			b, err = r.Stream("", ref, stdin)
		}
		if errors.Is(err, source.ErrTooLarge) {
			return nil, inputs.Invalidf("values: %s is larger than the %d MiB iter8 reads", ref, MaxValuesFile>>20)
		}
		if err != nil {
			return nil, inputs.Invalidf("values: %v", err)
		}
		return b, nil
	}
	base := map[string]any{}
	for _, f := range v.Files {
		raw, err := read(f)
		if err != nil {
			return nil, err
		}
		if err := CheckDuplicateKeys(f, raw); err != nil {
			return nil, err
		}
		m, err := loader.LoadValues(bytes.NewReader(raw))
		if err != nil {
			return nil, inputs.Invalidf("values: failed to parse %s: %v", f, err)
		}
		base = loader.MergeMaps(base, m)
	}
	// --set, --set-string, then --set-file, into the merged files, as Helm
	// does.
	for _, a := range v.Set {
		if err := strvals.ParseInto(a, base); err != nil {
			return nil, inputs.Invalidf("values: failed parsing --set data: %v", err)
		}
	}
	for _, a := range v.Strings {
		if err := strvals.ParseIntoString(a, base); err != nil {
			return nil, inputs.Invalidf("values: failed parsing --set-string data: %v", err)
		}
	}
	for _, a := range v.FromFile {
		var readErr error
		reader := func(rs []rune) (any, error) {
			b, err := read(string(rs))
			if err != nil {
				readErr = err
				return nil, err
			}
			return string(b), nil
		}
		if err := strvals.ParseIntoFile(a, base, reader); err != nil {
			if readErr != nil {
				return nil, readErr
			}
			return nil, inputs.Invalidf("values: failed parsing --set-file data: %v", err)
		}
	}
	return base, nil
}

// Render renders every template of the chart with the given values and
// release options, returning manifests by template path.
func (c *Chart) Render(vals map[string]any, rel common.ReleaseOptions) (map[string]string, error) {
	// Helm validates the values against the chart's values.schema.json:
	// a misspelt key is an error, not a value silently ignored.
	rv, err := util.ToRenderValues(c.c, vals, rel, nil)
	if err != nil {
		return nil, c.schemaError(err)
	}
	out, err := engine.Engine{CustomTemplateFuncs: boundedFuncs(tmpl.NewMeter(RenderLimits()))}.RenderWithContext(context.Background(), c.c, rv)
	if err != nil {
		return nil, inputs.Invalidf("%s", templateError(err))
	}
	return out, nil
}

// RenderLimits bound a chart's rendering: no function returns more than a
// values file may hold (16 MiB) or lists of more than a million items, the
// functions make at most 256 MiB in all, and 30 seconds.
func RenderLimits() tmpl.Limits {
	return tmpl.Limits{Output: MaxValuesFile, Items: 1_000_000, Time: 30 * time.Second, Alloc: 256 << 20}
}

// helmOwn are functions Helm defines itself (or redefines over sprig's):
// they keep Helm's meaning.
var helmOwn = []string{"toJson", "mustToJson", "fromJson", "fromJsonArray", "toYaml", "mustToYaml", "fromYaml",
	"fromYamlArray", "toToml", "fromToml", "include", "tpl", "required", "fail", "lookup"}

// boundedFuncs are sprig's functions, as Helm gives them to a chart, each
// bounded by package tmpl and metered by m (a chart's templates are parsed
// by Helm, so only their function calls are metered, not their loops).
func boundedFuncs(m *tmpl.Meter) template.FuncMap {
	f := tmpl.Funcs(RenderLimits(), nil, m)
	for _, n := range helmOwn {
		delete(f, n)
	}
	return f
}

// Experiment renders the experiment document (experiment.yaml) from vals,
// for a local run: only the chart's helpers and its experiment template take
// part, so none of a Kubernetes install's objects are rendered.
func (c *Chart) Experiment(vals map[string]any) ([]byte, error) {
	local := *c.c
	local.Templates = nil
	for _, t := range c.c.Templates {
		if strings.HasPrefix(path.Base(t.Name), "_") || t.Name == experimentTemplate {
			local.Templates = append(local.Templates, t)
		}
	}
	r, err := (&Chart{c: &local}).Release(vals, common.ReleaseOptions{Name: "default", Namespace: "default"})
	if err != nil {
		return nil, err
	}
	return r.Experiment, nil
}

// Rendered is a chart rendered once for a release: the experiment document
// and the release's manifests by template name.
type Rendered struct {
	Experiment []byte
	Manifests  map[string]string
}

// Release renders every template of the chart once for the release rel: the
// Kubernetes objects, and the experiment document they carry.
func (c *Chart) Release(vals map[string]any, rel common.ReleaseOptions) (*Rendered, error) {
	ch := c.c
	if !c.hasTemplate(experimentTemplate) {
		name, err := c.experimentDefine()
		if err != nil {
			return nil, err
		}
		withDoc := *c.c
		withDoc.Templates = append(append([]*common.File{}, c.c.Templates...), &common.File{Name: experimentTemplate, Data: []byte(`{{ include "` + name + `" . }}`)})
		ch = &withDoc
	}
	out, err := (&Chart{c: ch}).Render(vals, rel)
	if err != nil {
		return nil, err
	}
	key := path.Join(c.c.Name(), experimentTemplate)
	doc, ok := out[key]
	if !ok {
		return nil, inputs.Invalidf("chart %s has no %s", c.c.Name(), experimentTemplate)
	}
	delete(out, key)
	return &Rendered{Experiment: []byte(strings.TrimSpace(doc) + "\n"), Manifests: out}, nil
}

// defineRE finds the names of a chart's named templates.
var defineRE = regexp.MustCompile(`\{\{-?\s*define\s+"([^"]+)"`)

// experimentDefine is the named template holding the experiment document:
// iter8.experiment in this iter8's chart, experiment in the original's
// charts (iter8 v0.11 charts/iter8, hub charts/iter8 0.11-0.13), which its
// gen rendered with {{ include "experiment" . }}.
func (c *Chart) experimentDefine() (string, error) {
	defined := map[string]bool{}
	for _, t := range c.c.Templates {
		for _, m := range defineRE.FindAllSubmatch(t.Data, -1) {
			defined[string(m[1])] = true
		}
	}
	for _, name := range []string{"iter8.experiment", "experiment"} {
		if defined[name] {
			return name, nil
		}
	}
	return "", inputs.Invalidf("chart %s has no experiment: it has no %s and defines neither iter8.experiment nor experiment (the original's name)", c.c.Name(), experimentTemplate)
}

func (c *Chart) hasTemplate(name string) bool {
	for _, t := range c.c.Templates {
		if t.Name == name {
			return true
		}
	}
	return false
}

var failMsg = regexp.MustCompile(`error calling fail: (.*)$`)

// templateError reduces a Helm template error to the chart's own message when
// a template called fail; other errors keep their location.
func templateError(err error) string {
	s := err.Error()
	if m := failMsg.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	if i := strings.LastIndex(s, "execution error at ("); i >= 0 {
		rest := s[i:]
		if j := strings.Index(rest, "): "); j >= 0 {
			return rest[j+3:]
		}
	}
	return s
}

// WriteEmbedded writes the built-in chart's files into dir, a new folder,
// for editing and rendering with --localChart (what Iter8 v0.11's hub
// command downloaded). It never overwrites: an existing dir is an error.
func WriteEmbedded(dir string) error {
	if _, err := os.Lstat(dir); err == nil {
		return inputs.Invalidf("%s exists: iter8 hub does not overwrite a chart folder (remove it, or edit and render it with --localChart -c %s)", dir, dir)
	}
	sub, err := fs.Sub(charts.FS, "iter8")
	if err != nil {
		return fmt.Errorf("reading embedded chart: %w", err)
	}
	return fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return fmt.Errorf("writing chart: %w", err)
			}
			return nil
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return fmt.Errorf("reading embedded chart: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("writing chart: %w", err)
		}
		return nil
	})
}
