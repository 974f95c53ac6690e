package httpapi

import (
	"fmt"

	"github.com/weft-dev/weft/httpapi/ui"
)

// dashboardRoutes serves the web dashboard (package ui) at "/" and its
// files under "/ui/", without the token: the files hold no data, and the
// page sends the token with its API requests. Not in routeTable, which
// lists the API's routes (those of the OpenAPI document).
func (s *Server) dashboardRoutes() error {
	if s.cfg.DisableDashboard {
		return nil
	}
	h, err := ui.New()
	if err != nil {
		return fmt.Errorf("httpapi: %w", err)
	}
	s.mux.Handle("GET /{$}", h)
	s.mux.Handle("GET /ui/", h)
	return nil
}
