// Package job defines a job: the spec a user writes, its validation, its wire form, and the
// stored job with its version and compiled schedule.
//
// Validation is complete before anything is stored: Decode and Spec.Validate report every
// invalid field at once, each named by a JSON Pointer, so an API can answer with one
// problem+json listing them all. Defaults are applied explicitly (Spec.WithDefaults) and stored,
// so what a user reads back is what runs.
package job
