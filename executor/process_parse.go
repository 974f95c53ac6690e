package executor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/weft-dev/weft"
)

// Reading and checking a process step's rules.

// parse decodes and checks a process step's input. At definition time
// (definition true), fields holding a {{ }} template are skipped, and so
// are expressions holding one.
func (p *Process) parse(raw json.RawMessage, definition bool) (*procSpec, weft.ValidationErrors) {
	spec := &procSpec{types: map[int]string{}}
	fields, perr := stepInputFields(raw)
	if perr != nil {
		return spec, weft.ValidationErrors{*perr}
	}
	problems := stepInputUnknown(fields, procInputFields, "a process step's input")
	for _, f := range fields {
		switch f.key {
		case "data":
			spec.data, spec.hasData = f.value, true
		case "rules":
			if definition && stepInputIsTemplate(f.value) {
				continue
			}
			v := bytes.TrimSpace(f.value)
			if string(v) == "null" {
				continue
			}
			var items []json.RawMessage
			if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &items) != nil {
				problems = append(problems, weft.ValidationError{Path: "$.rules", Code: weft.VType,
					Message: "expected an array of rules, found " + stepInputKind(f.value)})
				continue
			}
			for i, item := range items {
				if definition && stepInputIsTemplate(item) {
					continue
				}
				r, errs := p.parseRule(i, item, definition)
				spec.types[i] = r.typ
				problems = append(problems, errs...)
				if len(errs) == 0 {
					spec.rules = append(spec.rules, r)
				}
			}
		}
	}
	return spec, problems
}

// parseRule decodes and checks rule i.
func (p *Process) parseRule(i int, raw json.RawMessage, definition bool) (*procRule, weft.ValidationErrors) {
	r := &procRule{index: i}
	base := "$.rules[" + strconv.Itoa(i) + "]"
	var problems weft.ValidationErrors
	add := func(path, code, format string, args ...any) {
		problems = append(problems, weft.ValidationError{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	v := bytes.TrimSpace(raw)
	if len(v) == 0 || v[0] != '{' {
		add(base, weft.VType, "expected a rule (an object with a \"type\"), found %s", stepInputKind(raw))
		return r, problems
	}
	fields, perr := stepInputFields(v)
	if perr != nil {
		perr.Path = base
		return r, weft.ValidationErrors{*perr}
	}
	byName := map[string]json.RawMessage{}
	for _, f := range fields {
		byName[f.key] = f.value
	}
	typRaw, ok := byName["type"]
	if !ok {
		problems = append(problems, weft.ValidationError{Path: base + ".type", Code: weft.VRequired,
			Message: "missing rule type", Suggestion: "set \"type\" to one of " + strings.Join(procRuleTypes, ", ")})
		return r, problems
	}
	if definition && stepInputIsTemplate(typRaw) {
		return r, nil
	}
	typ, verr := stepInputString(typRaw, base+".type")
	if verr != nil {
		return r, weft.ValidationErrors{*verr}
	}
	r.typ = typ
	allowed, ok := procRuleFields[typ]
	if !ok {
		sugg := stepInputSuggest(typ, procRuleTypes)
		if sugg == "" {
			sugg = "one of " + strings.Join(procRuleTypes, ", ")
		}
		problems = append(problems, weft.ValidationError{Path: base + ".type", Code: weft.VInvalidValue,
			Message: fmt.Sprintf("unknown rule type %q", typ), Suggestion: sugg})
		return r, problems
	}
	what := "a " + typ + " rule"
	if typ == "aggregate" {
		what = "an aggregate rule"
	}
	for _, u := range stepInputUnknown(fields, allowed, what) {
		u.Path = base + strings.TrimPrefix(u.Path, "$")
		problems = append(problems, u)
	}
	for _, name := range procRuleRequired[typ] {
		if _, ok := byName[name]; !ok {
			add(base+"."+name, weft.VRequired, "%s needs %q", what, name)
		}
	}
	if typ == "set" {
		_, hasValue := byName["value"]
		_, hasExpr := byName["expr"]
		switch {
		case hasValue && hasExpr:
			add(base+".expr", weft.VInvalidValue, "a set rule takes \"value\" or \"expr\", not both")
		case !hasValue && !hasExpr:
			add(base+".value", weft.VRequired, "a set rule needs \"value\" or \"expr\"")
		}
	}
	for _, f := range fields {
		if !stepInputContains(allowed, f.key) || f.key == "type" {
			continue
		}
		path := base + "." + f.key
		if definition && stepInputIsTemplate(f.value) {
			continue
		}
		if f.key == "value" {
			r.value = f.value
			continue
		}
		if f.key == "digits" {
			var n json.Number
			d := json.NewDecoder(bytes.NewReader(f.value))
			d.UseNumber()
			if stepInputKind(f.value) != "a number" || d.Decode(&n) != nil {
				add(path, weft.VType, "expected an integer, found %s", stepInputKind(f.value))
				continue
			}
			digits, err := strconv.Atoi(n.String())
			if err != nil || digits < -procMaxDigits || digits > procMaxDigits {
				add(path, weft.VInvalidValue, "digits is %s: expected an integer from %d to %d", n, -procMaxDigits, procMaxDigits)
				continue
			}
			r.digits = digits
			continue
		}
		if f.key == "optional" {
			if err := json.Unmarshal(f.value, &r.optional); err != nil {
				add(path, weft.VType, "expected true or false, found %s", stepInputKind(f.value))
			}
			continue
		}
		s, verr := stepInputString(f.value, path)
		if verr != nil {
			problems = append(problems, *verr)
			continue
		}
		switch f.key {
		case "field", "to", "target", "key":
			fp, err := procParsePath(s)
			if err != nil {
				add(path, weft.VInvalidValue, "%v", err)
				continue
			}
			switch f.key {
			case "field":
				r.field, r.fieldSrc = fp, s
			case "to":
				r.to = fp
			case "target":
				r.target = fp
			case "key":
				r.key, r.hasKey = fp, true
			}
		case "operation":
			ops := procTransformOps
			if typ == "aggregate" {
				ops = procAggregateOps
			}
			if !stepInputContains(ops, s) {
				sugg := stepInputSuggest(s, ops)
				if sugg == "" {
					sugg = "one of " + strings.Join(ops, ", ")
				}
				problems = append(problems, weft.ValidationError{Path: path, Code: weft.VInvalidValue,
					Message: fmt.Sprintf("unknown operation %q for %s", s, what), Suggestion: sugg})
				continue
			}
			r.op = s
		case "separator":
			r.sep, r.hasSep = s, true
		case "expr", "condition":
			if definition && strings.Contains(s, "{{") {
				continue
			}
			x, err := p.compile(s)
			if err != nil {
				add(path, weft.VExpression, "%s", procErrMessage(err))
				continue
			}
			r.expr = x
		case "order":
			switch s {
			case "asc":
			case "desc":
				r.desc = true
			default:
				sugg := stepInputSuggest(s, []string{"asc", "desc"})
				if sugg == "" {
					sugg = `use "asc" or "desc"`
				}
				problems = append(problems, weft.ValidationError{Path: path, Code: weft.VInvalidValue,
					Message: fmt.Sprintf("unknown order %q", s), Suggestion: sugg})
			}
		case "message":
			r.message = s
		}
	}
	// digits and separator belong to some operations only.
	if _, ok := byName["digits"]; ok && r.op != "" && r.op != "round" {
		add(base+".digits", weft.VInvalidValue, "digits applies to operation round only, not %s", r.op)
	}
	if _, ok := byName["separator"]; ok && r.op != "" && r.op != "split" && r.op != "join" {
		add(base+".separator", weft.VInvalidValue, "separator applies to operations split and join only, not %s", r.op)
	}
	if r.typ == "rename" && len(r.field) == 0 && r.fieldSrc != "" {
		add(base+".field", weft.VInvalidValue, "cannot rename the whole working value")
	}
	if r.typ == "delete" && len(r.field) == 0 && r.fieldSrc != "" {
		add(base+".field", weft.VInvalidValue, "cannot delete the whole working value")
	}
	return r, problems
}

// procErrMessage is the message of err without its code wrapping.
func procErrMessage(err error) string {
	var we *weft.Error
	if errors.As(err, &we) && we.Message != "" {
		return we.Message
	}
	return err.Error()
}
