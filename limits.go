package weft

// Limits bound what a workflow document may contain. The zero value of a
// field means its default; use DefaultLimits for the filled-in values.
type Limits struct {
	// MaxSteps is the most steps a workflow may have. Defaults to 100,000.
	MaxSteps int
	// MaxDocumentBytes is the largest document accepted, in bytes. Defaults
	// to 10 MiB.
	MaxDocumentBytes int64
	// MaxDepth is the deepest nesting of arrays and objects in a document.
	// Defaults to 128.
	MaxDepth int
	// MaxDependencies is the most dependencies one step may list. Defaults
	// to 10,000.
	MaxDependencies int
	// MaxStepOutputBytes is the largest output a step may produce, in bytes.
	// Defaults to 1 MiB.
	MaxStepOutputBytes int64
	// MaxExpressionBytes is the longest expression or template, in bytes.
	// Defaults to 4 KiB.
	MaxExpressionBytes int
}

// The default limits.
const (
	DefaultMaxSteps           = 100_000
	DefaultMaxDocumentBytes   = 10 << 20
	DefaultMaxDepth           = 128
	DefaultMaxDependencies    = 10_000
	DefaultMaxStepOutputBytes = 1 << 20
	DefaultMaxExpressionBytes = 4 << 10
)

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxSteps <= 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.MaxDocumentBytes <= 0 {
		l.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxDependencies <= 0 {
		l.MaxDependencies = DefaultMaxDependencies
	}
	if l.MaxStepOutputBytes <= 0 {
		l.MaxStepOutputBytes = DefaultMaxStepOutputBytes
	}
	if l.MaxExpressionBytes <= 0 {
		l.MaxExpressionBytes = DefaultMaxExpressionBytes
	}
	return l
}
