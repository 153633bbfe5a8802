// Package mailparse reads back the e-mails the portal sends (a
// multipart/alternative of text and HTML), for the tests' SMTP servers:
// the mail package's own and the mail catcher of mailtest. It stands
// apart from both so that each may use it (mailtest imports mail).
package mailparse

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
)

// Message is what a reader sees of an e-mail.
type Message struct {
	MessageID string
	// Lang is the Content-Language header.
	Lang    string
	Subject string
	Text    string
	HTML    string
}

// Parse reads the headers and the text and HTML alternatives of raw.
func Parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	var dec mime.WordDecoder
	subj, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Message{}, err
	}
	m := Message{MessageID: msg.Header.Get("Message-Id"), Lang: msg.Header.Get("Content-Language"), Subject: subj}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Message{}, err
	}
	if mt != "multipart/alternative" {
		return Message{}, errors.New("not multipart/alternative: " + mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Message{}, err
		}
		b, err := io.ReadAll(p) // quoted-printable is decoded by the reader
		if err != nil {
			return Message{}, err
		}
		switch {
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain"):
			m.Text = string(b)
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/html"):
			m.HTML = string(b)
		}
	}
	return m, nil
}
