package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
)

// apiAgent is an agent and the account it is registered to (null: none).
type apiAgent struct {
	ID             string    `json:"id"`
	CustomerNumber *string   `json:"customer_number"`
	Version        string    `json:"version"`
	Online         bool      `json:"online"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
}

func toAPIAgent(g store.Agent) apiAgent {
	return apiAgent{ID: g.ID, CustomerNumber: g.CustomerNumber, Version: g.Version, Online: g.Online, FirstSeen: g.FirstSeen, LastSeen: g.LastSeen}
}

// apiAgents lists the agents, those of one account with ?account=NUMBER.
func (s *Server) apiAgents(c echo.Context) error {
	ctx := c.Request().Context()
	var accountID *int64
	if number := c.QueryParam("account"); number != "" {
		a, err := s.api.AccountByNumber(ctx, number)
		if err != nil {
			return err
		}
		accountID = &a.ID
	}
	gs, err := s.api.Agents(ctx, accountID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(gs, toAPIAgent))
}

// apiAssignAgent registers an agent to an account, or moves it to another:
// the deliberate call an import never makes.
func (s *Server) apiAssignAgent(c echo.Context) error {
	ctx := c.Request().Context()
	var in struct {
		CustomerNumber string `json:"customer_number"`
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	a, err := s.api.AccountByNumber(ctx, in.CustomerNumber)
	if err != nil {
		return err
	}
	if err := s.api.RegisterAgent(ctx, c.Param("id"), a.ID, actor(c)); err != nil {
		return err
	}
	g, err := s.api.Agent(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIAgent(g))
}
