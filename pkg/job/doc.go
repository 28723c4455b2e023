// Package job defines a job: the spec a user writes, its validation, its wire form, and the
// stored job with its version and compiled schedule.
//
// Validation is complete before anything is stored: Decode and Spec.Validate report every
// invalid field at once, each named by a JSON Pointer, so an API can answer with one
// problem+json listing them all. Defaults are applied explicitly (Spec.WithDefaults) and stored,
// so what a user reads back is what runs. Spec.ValidateWrite adds the rules that bind a spec
// being written but not one already stored, so that an upgrade never stops a running job.
//
// A target header's value may be a reference to a secret (HeaderValue: fromEnv, fromFile)
// instead of a literal. A spec holds only the reference, which is not secret; the dispatching
// replica resolves it (package targets). HeaderValue never prints a literal.
package job
