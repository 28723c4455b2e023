package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every route of routes(); TestOpenAPIMatchesRoutes holds the two
// together.
//
//go:embed openapi.json
var openAPIDocument []byte

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPIDocument)
}
