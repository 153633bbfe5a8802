package web

import (
	"html/template"
	"strconv"
	"strings"

	"github.com/meterline/meterline/portal/internal/i18n"
)

// The equipment list's rows are written here in Go, not in the template:
// a page holds 50 devices with several supply levels each, some 3,500
// template actions, and html/template spends about 0.6 µs on each (its
// reflection and escaper calls), 2 ms a page and most of the page's time.
// Written here they cost a tenth. Every value goes through esc (the same
// escaping as html/template's for text and quoted attributes); the markup
// is the one the rest of the site's tables use.

// rowLabels are the words every row repeats, looked up once per page.
type rowLabels struct {
	pending, removeAsked, removeLink, auto, manual, none string
	p                                                    *i18n.Printer
}

func newRowLabels(p *i18n.Printer) rowLabels {
	return rowLabels{
		pending:     p.T("equipment.pending"),
		removeAsked: p.T("equipment.remove.asked"),
		removeLink:  p.T("equipment.remove.link"),
		auto:        p.T("equipment.reads.auto"),
		manual:      p.T("equipment.reads.manual"),
		none:        p.T("value.none"),
		p:           p,
	}
}

// esc escapes text for HTML text and double-quoted attribute values.
func esc(s string) string { return template.HTMLEscapeString(s) }

// htmlBuilder writes pieces of markup one after the other (no string
// concatenated on the way).
type htmlBuilder struct{ strings.Builder }

func (b *htmlBuilder) write(parts ...string) {
	for _, p := range parts {
		b.WriteString(p)
	}
}

// equipmentGroupsHTML is the table's row groups: one tbody per shipping
// address, a header row naming it, then its devices. The markup is built
// in one buffer sized for the page and handed out in a few pieces, slices
// of that one string cut between rows: the template prints each piece
// through fmt, whose buffers are reused only up to 64 KB, and a page's
// rows are more than that; each piece printed costs an escaper call, so
// they are as few as that allows.
func equipmentGroupsHTML(groups []equipmentGroup, l rowLabels) []template.HTML {
	devices := 0
	for _, g := range groups {
		devices += len(g.Devices)
	}
	var b htmlBuilder
	b.Grow(len(groups)*256 + devices*rowBytes)
	var cuts []int
	last := 0
	for _, g := range groups {
		b.write("\n<tbody>\n<tr class=\"location-row\"><th scope=\"colgroup\" colspan=\"9\"")
		if g.None {
			b.write(` class="none"`)
		}
		b.write(">")
		b.write(esc(g.Address))
		b.write("</th></tr>")
		for i := range g.Devices {
			if b.Len()-last >= pieceBytes {
				last = b.Len()
				cuts = append(cuts, last)
			}
			writeEquipmentRow(&b, &g.Devices[i], l)
		}
		b.write("\n</tbody>")
	}
	cuts = append(cuts, b.Len())
	all := b.String()
	pieces := make([]template.HTML, 0, len(cuts))
	from := 0
	for _, to := range cuts {
		pieces = append(pieces, template.HTML(all[from:to])) //nolint:gosec // G203: every value above is escaped by esc
		from = to
	}
	return pieces
}

// rowBytes is about the size of a device's row, supplies included.
const rowBytes = 2048

// pieceBytes is where a piece is cut, at the next row: a row more keeps
// it well under fmt's 64 KB.
const pieceBytes = 32 << 10

func writeEquipmentRow(b *htmlBuilder, r *equipmentRow, l rowLabels) {
	id := strconv.FormatInt(r.ID, 10)
	serial := esc(r.Serial)
	b.write("\n<tr id=\"device-", id, "\"")
	if r.Pending {
		b.write(` class="pending"`)
	}
	b.write(">\n<td class=\"select\"><input type=\"checkbox\" id=\"select-", id, "\" name=\"device\" value=\"", id, "\"")
	if r.Selected {
		b.write(" checked")
	}
	b.write("><label for=\"select-", id, "\" class=\"sr-only\">", esc(l.p.T("equipment.select", r.Serial)), "</label></td>\n")
	b.write("<th scope=\"row\" class=\"device\"><span class=\"serial\">", serial)
	if r.Pending {
		pending := esc(l.pending)
		b.write("<span class=\"pending-mark\" title=\"", pending, "\" aria-hidden=\"true\">*</span><span class=\"sr-only\"> (", pending, ")</span>")
	}
	b.write("</span><span class=\"make")
	if r.ModelUnknown {
		b.write(" none")
	}
	b.write("\">", esc(r.Model), "</span>")
	if r.ProductCode != "" {
		b.write("<span class=\"meta\">", esc(r.ProductCode), "</span>")
	}
	b.write("</th>\n")
	for _, c := range []counterView{r.Black, r.Colour, r.Total} {
		b.write("<td class=\"num")
		if c.Absent {
			b.write(" none")
		}
		if c.NotReported {
			b.write(" unreported")
		}
		b.write("\">", esc(c.Text), "</td>\n")
	}
	b.write("<td class=\"toners\">")
	for _, t := range r.Toners {
		b.write("\n<div class=\"level")
		if t.Low {
			b.write(" low")
		}
		if !t.Measured {
			b.write(" state")
		}
		b.write("\"")
		if t.Title != "" {
			b.write(" title=\"", esc(t.Title), "\"")
		}
		b.write(">\n<span class=\"level-name\">", esc(t.Label), "</span>")
		if t.Measured {
			b.write("\n<svg class=\"gauge\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect class=\"fill ",
				esc(t.Colour), "\" width=\"", strconv.Itoa(t.Width), "\" height=\"8\"/></svg>")
		}
		b.write("\n<span class=\"level-value\">", esc(t.Text), "</span>\n</div>")
	}
	if len(r.Others) > 0 {
		b.write("\n<ul class=\"inline supplies\">")
		for _, o := range r.Others {
			b.write("\n<li")
			if o.Alert {
				b.write(` class="alert"`)
			}
			if o.Title != "" {
				b.write(" title=\"", esc(o.Title), "\"")
			}
			b.write(">", esc(o.Text), "</li>")
		}
		b.write("\n</ul>")
	}
	if len(r.Toners) == 0 && len(r.Others) == 0 {
		b.write("<span class=\"none\">", esc(l.none), "</span>")
	}
	b.write("\n</td>\n<td class=\"last-read\">")
	if r.LastRead.None {
		b.write("<span class=\"none\">", esc(r.LastRead.Text), "</span>")
	} else {
		b.write("<time datetime=\"", esc(r.LastRead.ISO), "\" title=\"", esc(r.LastRead.Title), "\">", esc(r.LastRead.Text), "</time>")
	}
	b.write("</td>\n<td class=\"reads\">")
	if r.Automatic {
		b.write("<span class=\"badge ok\">", esc(l.auto), "</span>")
	} else {
		b.write("<span class=\"badge muted\">", esc(l.manual), "</span>")
	}
	b.write("</td>\n<td class=\"action\">")
	if r.Pending {
		b.write("<span class=\"none\">", esc(l.removeAsked), "</span>")
	} else {
		b.write("<a href=\"/equipment/", id, "/remove\">", esc(l.removeLink), "<span class=\"sr-only\"> ", serial, "</span></a>")
	}
	b.write("</td>\n</tr>")
}
