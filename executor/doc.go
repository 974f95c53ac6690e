// Package executor holds weft's built-in step types and the registry that
// bundles them (DESIGN.md section 5):
//
//   - input ([Input]): the step's data, checked against an optional JSON
//     Schema and list of required fields;
//   - process ([Process]): rules applied in order to the working value;
//   - ai ([AI]): a chat request to a language model through one of the
//     providers of [Config].AI (package ai), with token budgets, rate
//     limits and structured output;
//   - output ([Output]): delivers the working value to the run's result,
//     stdout, a file or a webhook.
//
// [NewRegistry] returns a [weft.Registry] with all four, configured by a
// [Config]; register custom step types on it with Registry.Register.
//
// Every executor makes exactly one attempt per Execute call and reports
// failures as *weft.Error with a code (invalid, timeout, unavailable,
// rate_limited, canceled, internal): the engine decides whether to retry.
// Executors that implement [weft.InputValidator] check a step's input when
// the workflow is validated; input fields holding a {{ }} template are
// checked when the step runs, after the engine has rendered them.
//
// Outbound HTTP goes through [NewHTTPClient], whose dialer checks every
// resolved address against an allow-list: public addresses pass; loopback,
// private, link-local, CGNAT and other non-public addresses need an entry
// of [Config].AllowHosts (see [ParseAllowHosts]).
package executor
