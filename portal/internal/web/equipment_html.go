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

// equipmentGroupsHTML is the table's row groups: one tbody per shipping
// address, a header row naming it, then its devices.
func equipmentGroupsHTML(groups []equipmentGroup, l rowLabels) template.HTML {
	var b strings.Builder
	b.Grow(len(groups) * 512)
	for _, g := range groups {
		b.WriteString("\n<tbody>\n<tr class=\"location-row\"><th scope=\"colgroup\" colspan=\"9\"")
		if g.None {
			b.WriteString(` class="none"`)
		}
		b.WriteString(">")
		b.WriteString(esc(g.Address))
		b.WriteString("</th></tr>")
		for i := range g.Devices {
			writeEquipmentRow(&b, &g.Devices[i], l)
		}
		b.WriteString("\n</tbody>")
	}
	return template.HTML(b.String()) //nolint:gosec // G203: every value above is escaped by esc
}

func writeEquipmentRow(b *strings.Builder, r *equipmentRow, l rowLabels) {
	id := strconv.FormatInt(r.ID, 10)
	serial := esc(r.Serial)
	b.WriteString("\n<tr id=\"device-" + id + "\"")
	if r.Pending {
		b.WriteString(` class="pending"`)
	}
	b.WriteString(">\n<td class=\"select\"><input type=\"checkbox\" id=\"select-" + id + "\" name=\"device\" value=\"" + id + "\"")
	if r.Selected {
		b.WriteString(" checked")
	}
	b.WriteString("><label for=\"select-" + id + "\" class=\"sr-only\">" + esc(l.p.T("equipment.select", r.Serial)) + "</label></td>\n")
	b.WriteString("<th scope=\"row\" class=\"device\"><span class=\"serial\">" + serial)
	if r.Pending {
		pending := esc(l.pending)
		b.WriteString("<span class=\"pending-mark\" title=\"" + pending + "\" aria-hidden=\"true\">*</span><span class=\"sr-only\"> (" + pending + ")</span>")
	}
	b.WriteString("</span><span class=\"make")
	if r.ModelUnknown {
		b.WriteString(" none")
	}
	b.WriteString("\">" + esc(r.Model) + "</span>")
	if r.ProductCode != "" {
		b.WriteString("<span class=\"meta\">" + esc(r.ProductCode) + "</span>")
	}
	b.WriteString("</th>\n")
	for _, c := range []counterView{r.Black, r.Colour, r.Total} {
		b.WriteString("<td class=\"num")
		if c.Absent {
			b.WriteString(" none")
		}
		if c.NotReported {
			b.WriteString(" unreported")
		}
		b.WriteString("\">" + esc(c.Text) + "</td>\n")
	}
	b.WriteString("<td class=\"toners\">")
	for _, t := range r.Toners {
		b.WriteString("\n<div class=\"level")
		if t.Low {
			b.WriteString(" low")
		}
		if !t.Measured {
			b.WriteString(" state")
		}
		b.WriteString("\"")
		if t.Title != "" {
			b.WriteString(" title=\"" + esc(t.Title) + "\"")
		}
		b.WriteString(">\n<span class=\"level-name\">" + esc(t.Label) + "</span>")
		if t.Measured {
			b.WriteString("\n<svg class=\"gauge\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect class=\"fill " +
				esc(t.Colour) + "\" width=\"" + strconv.Itoa(t.Width) + "\" height=\"8\"/></svg>")
		}
		b.WriteString("\n<span class=\"level-value\">" + esc(t.Text) + "</span>\n</div>")
	}
	if len(r.Others) > 0 {
		b.WriteString("\n<ul class=\"inline supplies\">")
		for _, o := range r.Others {
			b.WriteString("\n<li")
			if o.Alert {
				b.WriteString(` class="alert"`)
			}
			if o.Title != "" {
				b.WriteString(" title=\"" + esc(o.Title) + "\"")
			}
			b.WriteString(">" + esc(o.Text) + "</li>")
		}
		b.WriteString("\n</ul>")
	}
	if len(r.Toners) == 0 && len(r.Others) == 0 {
		b.WriteString("<span class=\"none\">" + esc(l.none) + "</span>")
	}
	b.WriteString("\n</td>\n<td class=\"last-read\">")
	if r.LastRead.None {
		b.WriteString("<span class=\"none\">" + esc(r.LastRead.Text) + "</span>")
	} else {
		b.WriteString("<time datetime=\"" + esc(r.LastRead.ISO) + "\" title=\"" + esc(r.LastRead.Title) + "\">" + esc(r.LastRead.Text) + "</time>")
	}
	b.WriteString("</td>\n<td class=\"reads\">")
	if r.Automatic {
		b.WriteString("<span class=\"badge ok\">" + esc(l.auto) + "</span>")
	} else {
		b.WriteString("<span class=\"badge muted\">" + esc(l.manual) + "</span>")
	}
	b.WriteString("</td>\n<td class=\"action\">")
	if r.Pending {
		b.WriteString("<span class=\"none\">" + esc(l.removeAsked) + "</span>")
	} else {
		b.WriteString("<a href=\"/equipment/" + id + "/remove\">" + esc(l.removeLink) + "<span class=\"sr-only\"> " + serial + "</span></a>")
	}
	b.WriteString("</td>\n</tr>")
}
