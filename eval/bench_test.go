package eval

import (
	"encoding/json"
	"testing"
)

const benchInput = `{"prompt": "Summarize the orders", "model": "small", "options": {"temperature": 0.2, "max_tokens": 512}, "tags": ["daily", "orders", "report"]}`

func BenchmarkRenderStatic(b *testing.B) {
	tmpl, errs := CompileTemplate(json.RawMessage(benchInput), nil)
	if errs != nil || !tmpl.Static() {
		b.Fatal(errs)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderDynamic(b *testing.B) {
	in := `{"prompt": "Summarize {{ len(data.arr) }} orders in {{ params.currency }}", "total": "{{ deps.fetch.total * 2 }}", "options": {"temperature": 0.2, "max_tokens": 512}, "tags": ["daily", "{{ run.workflow }}", "report"]}`
	tmpl, errs := CompileTemplate(json.RawMessage(in), nil)
	if errs != nil || tmpl.Static() {
		b.Fatal(errs)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	for _, src := range []string{"deps.fetch.total * 2 > params.min", "data.s + '!'", "filter(data.arr, # > 1)"} {
		b.Run(src, func(b *testing.B) {
			x, err := Compile(src, nil)
			if err != nil {
				b.Fatal(err)
			}
			env := testEnv()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.Eval(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("filter(data.arr, # > params.min) | map(# * 2)", nil); err != nil {
			b.Fatal(err)
		}
	}
}
