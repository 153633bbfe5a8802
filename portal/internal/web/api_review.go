package web

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/ownership"
)

// ReviewStore is what the back office's review of devices needs: the
// devices an account's agent reported that the account had not
// registered, to confirm or reject, and the serials two accounts have.
type ReviewStore interface {
	UnconfirmedDevices(ctx context.Context, accountID int64) ([]store.UnconfirmedDevice, error)
	SerialConflicts(ctx context.Context) ([]ownership.SerialConflict, error)
	ConfirmDevice(ctx context.Context, id int64, d store.ContractedDevice, by store.Actor) (store.ContractedDevice, error)
	RejectDevice(ctx context.Context, id int64, by store.Actor) error
}

type apiUnconfirmedDevice struct {
	ID             int64      `json:"id"`
	Key            string     `json:"key"`
	Owner          string     `json:"owner"`
	Serial         string     `json:"serial"`
	MAC            string     `json:"mac"`
	Vendor         string     `json:"vendor"`
	Model          string     `json:"model"`
	Address        string     `json:"address"`
	AgentID        string     `json:"agent_id,omitempty"`
	AccountID      int64      `json:"account_id"`
	CustomerNumber string     `json:"customer_number"`
	FirstSeen      time.Time  `json:"first_seen"`
	LastSeen       time.Time  `json:"last_seen"`
	LastReadAt     *time.Time `json:"last_read_at,omitempty"`
	LastTotal      *int64     `json:"last_total,omitempty"`
	Conflict       bool       `json:"conflict"`
}

func toAPIUnconfirmed(d store.UnconfirmedDevice) apiUnconfirmedDevice {
	return apiUnconfirmedDevice{ID: d.ID, Key: d.Key, Owner: d.Owner, Serial: d.Serial, MAC: d.MAC, Vendor: d.Vendor, Model: d.Model,
		Address: d.Address, AgentID: d.AgentID.String, AccountID: d.AccountID, CustomerNumber: d.CustomerNumber,
		FirstSeen: d.FirstSeen, LastSeen: d.LastSeen, LastReadAt: nullTime(d.LastReadAt), LastTotal: nullInt(d.LastTotal), Conflict: d.Conflict}
}

type apiSerialConflict struct {
	DeviceKey      string     `json:"device_key"`
	DeviceID       int64      `json:"device_id"`
	AccountID      int64      `json:"account_id"`
	CustomerNumber string     `json:"customer_number"`
	Serial         string     `json:"serial"`
	Model          string     `json:"model"`
	State          string     `json:"state,omitempty"`
	AgentID        string     `json:"agent_id,omitempty"`
	ContractID     *int64     `json:"contract_id,omitempty"`
	FirstSeen      *time.Time `json:"first_seen,omitempty"`
	LastReadAt     *time.Time `json:"last_read_at,omitempty"`
}

func toAPIConflict(c ownership.SerialConflict) apiSerialConflict {
	return apiSerialConflict{DeviceKey: c.DeviceKey, DeviceID: c.DeviceID, AccountID: c.AccountID, CustomerNumber: c.CustomerNumber,
		Serial: c.Serial, Model: c.Model, State: c.State.String, AgentID: c.AgentID.String, ContractID: nullInt(c.ContractID),
		FirstSeen: nullTime(c.FirstSeen), LastReadAt: nullTime(c.LastReadAt)}
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	return &t.Time
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

// deviceID reads the :id parameter.
func deviceID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, domain.Errorf(domain.EINVALID, "device id %q is not a number", c.Param("id"))
	}
	return id, nil
}

// apiUnconfirmedDevices lists the unconfirmed devices, of the account
// whose customer number ?account= gives, else of every account.
func (s *Server) apiUnconfirmedDevices(c echo.Context) error {
	var accountID int64
	if number := c.QueryParam("account"); number != "" {
		a, err := s.api.AccountByNumber(c.Request().Context(), number)
		if err != nil {
			return err
		}
		accountID = a.ID
	}
	ds, err := s.api.UnconfirmedDevices(c.Request().Context(), accountID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(ds, toAPIUnconfirmed))
}

func (s *Server) apiSerialConflicts(c echo.Context) error {
	cs, err := s.api.SerialConflicts(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, mapAll(cs, toAPIConflict))
}

// deviceConfirmation is what confirming an unconfirmed device takes, from
// the API's JSON body or the back office's form (confirmationForm): the
// contract of the device's account it goes under, and the product code,
// location, meter-read contact, auto-replenishment state and model it
// gets. Its serial is the device's. The store checks that the contract
// and location are the device's account's.
type deviceConfirmation struct {
	ContractID    int64                     `json:"contract_id"`
	ProductCode   string                    `json:"product_code"`
	LocationID    *int64                    `json:"location_id"`
	ReadContactID *int64                    `json:"read_contact_id"`
	Replenishment domain.ReplenishmentState `json:"replenishment"`
	Model         string                    `json:"model"`
}

// check refuses a confirmation that names no contract.
func (in deviceConfirmation) check() error {
	if in.ContractID <= 0 {
		return domain.Errorf(domain.EINVALID, "confirming a device needs the contract it goes under")
	}
	return nil
}

// device is the device the confirmation puts under contract.
func (in deviceConfirmation) device() store.ContractedDevice {
	return store.ContractedDevice{Model: strings.TrimSpace(in.Model), ProductCode: strings.TrimSpace(in.ProductCode),
		ContractID: in.ContractID, LocationID: in.LocationID, ReadContactID: in.ReadContactID, Replenishment: in.Replenishment}
}

// apiConfirmDevice puts an unconfirmed device under a contract of its
// account: the body is a deviceConfirmation.
func (s *Server) apiConfirmDevice(c echo.Context) error {
	id, err := deviceID(c)
	if err != nil {
		return err
	}
	var in deviceConfirmation
	if err := bind(c, &in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	d, err := s.api.ConfirmDevice(c.Request().Context(), id, in.device(), actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIDevice(d))
}

func (s *Server) apiRejectDevice(c echo.Context) error {
	id, err := deviceID(c)
	if err != nil {
		return err
	}
	if err := s.api.RejectDevice(c.Request().Context(), id, actor(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
