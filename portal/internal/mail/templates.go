package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"sort"
	"strings"
	texttemplate "text/template"

	"github.com/meterline/meterline/portal/internal/i18n"
)

// The templates: for each e-mail NAME and language LANG,
// templates/NAME.LANG.txt (text/template) defines "subject" and "text",
// and templates/NAME.LANG.html (html/template, escaped) is the HTML body.
//
//go:embed templates
var templateFS embed.FS

// Rendered is a message ready to send.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

type templatePair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Templates are the e-mail templates, by name and language.
type Templates struct {
	byKey map[string]templatePair // "NAME.LANG"
}

// LoadTemplates parses the embedded templates and checks that every
// e-mail exists in every language, as text and as HTML.
func LoadTemplates() (*Templates, error) {
	t := &Templates{byKey: map[string]templatePair{}}
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		base, ext := strings.TrimSuffix(e.Name(), path.Ext(e.Name())), path.Ext(e.Name())
		name, lang, ok := strings.Cut(base, ".")
		if !ok {
			return nil, fmt.Errorf("mail: template %s: want NAME.LANG.txt or NAME.LANG.html", e.Name())
		}
		if _, ok := i18n.Parse(lang); !ok {
			return nil, fmt.Errorf("mail: template %s: language %q not spoken", e.Name(), lang)
		}
		names[name] = true
		p := t.byKey[base]
		file := path.Join("templates", e.Name())
		switch ext {
		case ".txt":
			p.text, err = texttemplate.New(e.Name()).Option("missingkey=error").ParseFS(templateFS, file)
			if err == nil && (p.text.Lookup("subject") == nil || p.text.Lookup("text") == nil) {
				err = fmt.Errorf("defines no \"subject\" or no \"text\"")
			}
		case ".html":
			p.html, err = htmltemplate.New(e.Name()).Option("missingkey=error").ParseFS(templateFS, file)
		default:
			err = fmt.Errorf("unknown extension")
		}
		if err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", e.Name(), err)
		}
		t.byKey[base] = p
	}
	for name := range names {
		for _, l := range i18n.Langs {
			p := t.byKey[name+"."+string(l)]
			if p.text == nil || p.html == nil {
				return nil, fmt.Errorf("mail: template %s has no %s text or HTML version", name, l)
			}
		}
	}
	return t, nil
}

// Names lists the e-mails there are templates for.
func (t *Templates) Names() []string {
	seen := map[string]bool{}
	var out []string
	for k := range t.byKey {
		name, _, _ := strings.Cut(k, ".")
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Render renders e-mail name in language lang with data.
func (t *Templates) Render(name string, lang i18n.Lang, data any) (Rendered, error) {
	p, ok := t.byKey[name+"."+string(lang)]
	if !ok {
		return Rendered{}, fmt.Errorf("mail: no template %q in %s", name, lang)
	}
	var subj, text, html bytes.Buffer
	if err := p.text.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Rendered{}, fmt.Errorf("mail: render %s.%s subject: %w", name, lang, err)
	}
	if err := p.text.ExecuteTemplate(&text, "text", data); err != nil {
		return Rendered{}, fmt.Errorf("mail: render %s.%s text: %w", name, lang, err)
	}
	if err := p.html.Execute(&html, data); err != nil {
		return Rendered{}, fmt.Errorf("mail: render %s.%s HTML: %w", name, lang, err)
	}
	// A subject is one line: a newline in it would end the header.
	s := strings.Join(strings.Fields(subj.String()), " ")
	return Rendered{Subject: s, Text: strings.TrimSpace(text.String()) + "\n", HTML: html.String()}, nil
}
