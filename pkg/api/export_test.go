package api

import "github.com/schedulerd/schedulerd/pkg/auth"

// RouteRole is a route pattern and the least role that may call it.
type RouteRole struct {
	Pattern string
	Role    auth.Role
}

// RouteRoles lists a's routes for the tests that must cover every one.
func (a *API) RouteRoles() []RouteRole {
	var out []RouteRole
	for _, r := range a.routes() {
		out = append(out, RouteRole{r.pattern, r.role})
	}
	return out
}
