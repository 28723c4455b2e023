// Package targets is what a replica lets a job's target do: which hosts it may call (serve
// --allowed-target-hosts), and where the secrets its headers name come from (fromEnv, and
// fromFile under --secrets-dir). The API checks a spec against the Policy when the spec is
// written; the HTTP executor enforces the same Policy again at dispatch, because a job may
// have been written under another policy, and it refuses to dial a link-local address (where
// cloud metadata endpoints answer) unless the allowed list names the host or the address
// itself.
//
// Promises: a secret is read only at dispatch, for the request being sent; it is never
// stored, and no error of this package holds one: errors name the header and the reference.
// A dispatch this package refuses is an *Error, which the executor reports as a failed
// attempt that is not retried (a policy or a missing secret does not fix itself within a run).
// The link-local check sees the address actually dialled, after name resolution, so a name
// that resolves to 169.254.169.254 is caught too.
//
// Non-promises: the host rules see the URL's host name and the address dialled. Behind an
// HTTP proxy (HTTP_PROXY, HTTPS_PROXY) the address dialled is the proxy's, and the proxy
// decides where a request goes. Every file under --secrets-dir is readable by every job that
// names it: the directory is the operator's to fill with secrets meant for targets. Other
// internal addresses (loopback, private ranges, an IPv6 metadata address in fd00::/8) are
// allowed unless --allowed-target-hosts restricts them.
package targets
