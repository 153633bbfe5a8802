package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/meterline/meterline/portal/internal/auth"
)

// hashPassword is `admin hash-password`: it reads a password, the first
// line of r (from the input, so that it shows in no process list), and
// writes its hash with the portal's parameters (auth.DefaultParams, the
// ones sign-in checks and rehashes to).
func hashPassword(r io.Reader, w io.Writer) error {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("admin hash-password: read the password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("admin hash-password: no password on the input")
	}
	h, err := auth.NewHasher(auth.DefaultParams)
	if err != nil {
		return err
	}
	hash, err := h.Hash(password)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, hash)
	return err
}
