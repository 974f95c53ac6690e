// Package workflow reads workflow documents (JSON or YAML) into
// weft.Workflow values and validates them, reporting every problem at once
// with its JSON path, a code, a message and, where one exists, a suggestion.
//
// JSON and YAML go through the same decoder (YAML is first converted to
// JSON), so both formats have the same strictness and the same errors:
// unknown fields, duplicate keys, wrong types, invalid UTF-8, nesting and
// size limits.
package workflow
