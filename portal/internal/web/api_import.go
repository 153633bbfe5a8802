package web

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

// maxImportBytes bounds an imported file.
const maxImportBytes = 32 << 20

// apiImportKind is a kind of import file and its columns: the documented
// format, as the store defines it.
type apiImportKind struct {
	Kind    string            `json:"kind"`
	Doc     string            `json:"doc"`
	Columns []apiImportColumn `json:"columns"`
}

type apiImportColumn struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	Doc      string `json:"doc"`
}

func toAPIImportKind(k store.ImportKind) apiImportKind {
	return apiImportKind{Kind: k.Name, Doc: k.Doc, Columns: mapAll(k.Columns, func(c store.ImportColumn) apiImportColumn {
		return apiImportColumn{Name: c.Name, Required: c.Required, Doc: c.Doc}
	})}
}

// apiImportKinds lists the kinds of import file, in the order they are
// best imported, and their columns.
func (s *Server) apiImportKinds(c echo.Context) error {
	return c.JSON(http.StatusOK, mapAll(store.ImportKinds(), toAPIImportKind))
}

// apiImport imports a CSV file of the kind :kind (GET /import lists them;
// another kind is 404 naming them), sent as the body (text/csv) or as the
// multipart field "file".
func (s *Server) apiImport(c echo.Context) error {
	kind, err := store.LookupImportKind(c.Param("kind"))
	if err != nil {
		return err
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxImportBytes)
	body := io.Reader(c.Request().Body)
	if strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		fh, err := c.FormFile("file")
		if err != nil {
			return domain.Errorf(domain.EINVALID, "the multipart form has no field \"file\"")
		}
		f, err := fh.Open()
		if err != nil {
			return fmt.Errorf("open the uploaded file: %w", err)
		}
		defer f.Close()
		body = f
	}
	res, err := s.api.Import(c.Request().Context(), kind.Name, body, actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
