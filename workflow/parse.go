package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/weft-dev/weft"
	"github.com/weft-dev/weft/dag"
)

// Format is the syntax of a workflow document.
type Format int

// The formats.
const (
	// FormatAuto picks YAML for .yaml/.yml files and JSON for .json files;
	// otherwise JSON when the document starts with '{' or '[', else YAML.
	FormatAuto Format = iota
	// FormatJSON reads JSON.
	FormatJSON
	// FormatYAML reads YAML (converted to JSON, then read as JSON).
	FormatYAML
)

// Options configures parsing and validation. A nil *Options means the
// defaults of every field.
type Options struct {
	// Registry is checked for step types. Defaults to the built-in types
	// (weft.BuiltinTypes) when nil.
	Registry *weft.Registry
	// Limits bound the document. Zero fields default as documented on
	// weft.Limits.
	Limits weft.Limits
	// Format is the document's syntax. Defaults to FormatAuto.
	Format Format
}

// Definition is a validated workflow and its dependency graph.
type Definition struct {
	// Workflow is the parsed document.
	Workflow *weft.Workflow
	// Graph holds the steps as nodes; Graph.ID(i) is a step id.
	Graph *dag.Graph
	index map[string]int32
	c     *compiled
}

// Node returns the graph node of a step id, and false when there is none.
func (d *Definition) Node(id string) (int32, bool) {
	i, ok := d.index[id]
	return i, ok
}

// Parse reads and validates a workflow document. It returns
// weft.ValidationErrors (matching weft.ErrInvalidWorkflow) listing every
// problem found: syntax, types, unknown fields, references, cycles, limits.
func Parse(data []byte, opts *Options) (*Definition, error) {
	data, lim, errs := jsonText(data, opts)
	if len(errs) > 0 {
		return nil, errs
	}
	d := decodeJSON(data, lim)
	if d.fatal {
		return nil, d.errs
	}
	var registry *weft.Registry
	if opts != nil {
		registry = opts.Registry
	}
	def, verrs := check(d, registry, lim)
	errs = append(d.errs, verrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	def.c.source = bytes.Clone(trimBOM(data))
	return def, nil
}

// DeclaredID returns the id a workflow document declares (its "id" when
// that is a string), or "" when the document cannot be read that far: to
// name a document that does not validate. opts are as for Parse; YAML is
// converted as Parse converts it, and a YAML document that does not
// convert has no id here.
func DeclaredID(data []byte, opts *Options) string {
	data, lim, errs := jsonText(data, opts)
	if len(errs) > 0 {
		return ""
	}
	return decodeJSON(data, lim).wf.ID
}

// settings returns the limits (defaults applied) and the format (FormatAuto
// resolved for data) of opts, which may be nil.
func (opts *Options) settings(data []byte) (weft.Limits, Format) {
	if opts == nil {
		opts = &Options{}
	}
	format := opts.Format
	if format == FormatAuto {
		format = sniff(data)
	}
	return opts.Limits.WithDefaults(), format
}

// jsonText returns the JSON text of a document, a YAML document converted,
// with the limits of opts; or the problems that stop a YAML document's
// conversion.
func jsonText(data []byte, opts *Options) ([]byte, weft.Limits, weft.ValidationErrors) {
	lim, format := opts.settings(data)
	if format != FormatYAML {
		return data, lim, nil
	}
	if int64(len(data)) > lim.MaxDocumentBytes {
		return nil, lim, weft.ValidationErrors{sizeError(int64(len(data)), lim)}
	}
	converted, errs := yamlToJSON(data, lim)
	return converted, lim, errs
}

// ParseFile reads and validates the workflow document at path. With
// FormatAuto the file name's extension picks the format. It returns an
// error wrapping fs errors when the file cannot be read, and
// weft.ValidationErrors when the document is invalid.
func ParseFile(path string, opts *Options) (*Definition, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Format == FormatAuto {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml":
			o.Format = FormatYAML
		case ".json":
			o.Format = FormatJSON
		}
	}
	lim := o.Limits.WithDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
	}
	// Read at most one byte more than the limit, so that a huge file is
	// refused without being read whole.
	data, err := io.ReadAll(io.LimitReader(f, lim.MaxDocumentBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > lim.MaxDocumentBytes {
		// A regular file knows its size; a pipe only that it is too big.
		size := int64(-1)
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > lim.MaxDocumentBytes {
			size = st.Size()
		}
		return nil, weft.ValidationErrors{sizeError(size, lim)}
	}
	return Parse(data, &o)
}

// Validate checks a workflow built in Go, as Parse checks a document, and
// returns its Definition. It returns weft.ValidationErrors listing every
// problem.
func Validate(wf *weft.Workflow, opts *Options) (*Definition, error) {
	if opts == nil {
		opts = &Options{}
	}
	if wf == nil {
		return nil, weft.ValidationErrors{{Path: rootPath, Code: weft.VRequired, Message: "no workflow"}}
	}
	d := &decoded{wf: wf, order: wf.StepIDs()}
	d.index = make(map[string]int32, len(d.order))
	d.steps = make([]*weft.Step, len(d.order))
	d.deps = make([][]int32, len(d.order))
	for i, id := range d.order {
		d.index[id] = int32(i)
		st := wf.Steps[id]
		if st != nil && st.ID == "" {
			st.ID = id
		}
		d.steps[i] = st
	}
	def, errs := check(d, opts.Registry, opts.Limits.WithDefaults())
	if len(errs) > 0 {
		return nil, errs
	}
	return def, nil
}

// sizeError reports a document over the size limit; size < 0 means the
// size is not known (a pipe).
func sizeError(size int64, lim weft.Limits) weft.ValidationError {
	msg := fmt.Sprintf("the document is %d bytes, more than the limit of %d", size, lim.MaxDocumentBytes)
	if size < 0 {
		msg = fmt.Sprintf("the document is larger than the limit of %d bytes", lim.MaxDocumentBytes)
	}
	return weft.ValidationError{Path: rootPath, Code: weft.VLimit, Message: msg,
		Suggestion: "split the workflow or raise the document size limit"}
}

// sniff guesses the format of a document: JSON when its first significant
// byte opens an object or array, YAML otherwise.
func sniff(data []byte) Format {
	t := bytes.TrimLeft(trimBOM(data), " \t\r\n")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return FormatJSON
	}
	return FormatYAML
}
