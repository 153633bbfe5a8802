// Package upload keeps the files customers send with a form: the photos
// of a device's counters that justify a meter read lower than the last
// one (seed 003). A photo is judged by its content, never by its name or
// the type the browser claims; it is size-limited, stored under a random
// name in a folder of its own outside anything the web server serves,
// and read back only by the back office's authorised page.
package upload

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"regexp"

	"golang.org/x/image/webp"

	"github.com/meterline/meterline/shared/domain"
)

// DefaultMaxBytes is the largest photo taken when none is configured: a
// phone's full-size JPEG or HEIC fits, a video does not.
const DefaultMaxBytes = 8 << 20

// maxSide bounds a photo's width and height: a header announcing more is
// not a photo of a printer's screen.
const maxSide = 30000

// Refusals. Test with errors.Is.
var (
	ErrEmpty    = domain.Errorf(domain.EINVALID, "the file is empty")
	ErrNotImage = domain.Errorf(domain.EINVALID, "the file is not a JPEG, PNG, WebP or HEIC image")
	ErrTooLarge = domain.Errorf(domain.ETOOLARGE, "the file is larger than allowed")
)

// Kind is a type of image the portal takes.
type Kind struct {
	// Ext is the stored file's extension, ContentType what it is served as.
	Ext, ContentType string
}

// The kinds taken.
var (
	JPEG = Kind{"jpg", "image/jpeg"}
	PNG  = Kind{"png", "image/png"}
	WebP = Kind{"webp", "image/webp"}
	HEIC = Kind{"heic", "image/heic"}
)

var kinds = map[string]Kind{JPEG.Ext: JPEG, PNG.Ext: PNG, WebP.Ext: WebP, HEIC.Ext: HEIC}

// Photo is a stored photo.
type Photo struct {
	// Name is the file's name in the folder: random, with the kind's
	// extension. It is what the database records.
	Name string
	Kind Kind
	Size int64
	// Width and Height are the image's, 0 for HEIC (recognised by its
	// container, not decoded).
	Width, Height int
}

// Photos is the folder photos are kept in.
type Photos struct {
	dir  string
	root *os.Root
	max  int64
}

// OpenPhotos opens (creating it, private to the portal's user) the folder
// photos are kept in; maxBytes bounds a photo (0: DefaultMaxBytes).
func OpenPhotos(dir string, maxBytes int64) (*Photos, error) {
	if dir == "" {
		return nil, errors.New("upload: no folder for the photos")
	}
	if maxBytes < 0 {
		return nil, fmt.Errorf("upload: a photo's size limit %d is negative", maxBytes)
	}
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("upload: create the photo folder %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("upload: open the photo folder %s: %w", dir, err)
	}
	return &Photos{dir: dir, root: root, max: maxBytes}, nil
}

// Dir is the folder's path.
func (p *Photos) Dir() string { return p.dir }

// MaxBytes is the largest photo taken.
func (p *Photos) MaxBytes() int64 { return p.max }

// Close closes the folder.
func (p *Photos) Close() error { return p.root.Close() }

// Save reads a photo from r and stores it under a new random name. A file
// over MaxBytes is ErrTooLarge, one that is not an image of a kind taken
// is ErrNotImage; nothing is stored then.
func (p *Photos) Save(r io.Reader) (Photo, error) {
	data, err := io.ReadAll(io.LimitReader(r, p.max+1))
	if err != nil {
		return Photo{}, fmt.Errorf("upload: read the photo: %w", err)
	}
	switch {
	case int64(len(data)) > p.max:
		return Photo{}, ErrTooLarge
	case len(data) == 0:
		return Photo{}, ErrEmpty
	}
	ph, err := Detect(data)
	if err != nil {
		return Photo{}, err
	}
	var random [16]byte
	_, _ = rand.Read(random[:]) // never fails (crypto/rand)
	ph.Name = hex.EncodeToString(random[:]) + "." + ph.Kind.Ext
	ph.Size = int64(len(data))
	// Written aside then renamed: a reader never sees half a photo.
	part := ph.Name + ".part"
	if err := p.write(part, data); err != nil {
		_ = p.root.Remove(part)
		return Photo{}, fmt.Errorf("upload: store the photo: %w", err)
	}
	if err := p.root.Rename(part, ph.Name); err != nil {
		_ = p.root.Remove(part)
		return Photo{}, fmt.Errorf("upload: store the photo: %w", err)
	}
	return ph, nil
}

func (p *Photos) write(name string, data []byte) error {
	f, err := p.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// storedName is the form of the names Save gives.
var storedName = regexp.MustCompile(`^[0-9a-f]{32}\.(jpg|png|webp|heic)$`)

// Open opens a stored photo by the name Save gave it; any other name is
// ENOTFOUND, as is a photo no longer there.
func (p *Photos) Open(name string) (*os.File, Kind, error) {
	m := storedName.FindStringSubmatch(name)
	if m == nil {
		return nil, Kind{}, domain.Errorf(domain.ENOTFOUND, "no photo %q", name)
	}
	f, err := p.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Kind{}, fmt.Errorf("%w: %w", domain.Errorf(domain.ENOTFOUND, "no photo %q", name), err)
	}
	if err != nil {
		return nil, Kind{}, fmt.Errorf("upload: open photo %s: %w", name, err)
	}
	return f, kinds[m[1]], nil
}

// Remove deletes a stored photo (one whose read was not recorded after
// all); a photo already gone is no error.
func (p *Photos) Remove(name string) error {
	if !storedName.MatchString(name) {
		return domain.Errorf(domain.EINVALID, "no photo %q", name)
	}
	if err := p.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("upload: remove photo %s: %w", name, err)
	}
	return nil
}

// Detect tells the kind of an image from its bytes: its signature, then
// its header decoded by the kind's own decoder (a file that only starts
// like an image is refused). HEIC, which Go does not decode, is
// recognised by its ISO container: an ftyp box naming a HEIC brand,
// followed by the meta box every HEIF file has.
func Detect(data []byte) (Photo, error) {
	var decode func(io.Reader) (image.Config, error)
	var kind Kind
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		decode, kind = jpeg.DecodeConfig, JPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		decode, kind = png.DecodeConfig, PNG
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		decode, kind = webp.DecodeConfig, WebP
	case isHEIC(data):
		return Photo{Kind: HEIC}, nil
	default:
		return Photo{}, ErrNotImage
	}
	cfg, err := decode(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxSide || cfg.Height > maxSide {
		return Photo{}, ErrNotImage
	}
	return Photo{Kind: kind, Width: cfg.Width, Height: cfg.Height}, nil
}

// heicBrands are the ftyp brands of HEVC-coded HEIF images (ISO/IEC
// 23008-12): what phones write. "mif1" alone is not among them: AVIF
// files carry it too.
var heicBrands = map[string]bool{"heic": true, "heix": true, "heim": true, "heis": true, "hevc": true, "hevx": true, "hevm": true, "hevs": true}

func isHEIC(data []byte) bool {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return false
	}
	size := int(binary.BigEndian.Uint32(data[:4]))
	if size < 16 || size%4 != 0 || size > len(data) || size > 1024 {
		return false
	}
	heic := heicBrands[string(data[8:12])]
	for i := 16; i+4 <= size; i += 4 {
		heic = heic || heicBrands[string(data[i:i+4])]
	}
	if !heic {
		return false
	}
	// The top-level boxes after ftyp: HEIF requires a meta box among them.
	for at, boxes := size, 0; at+8 <= len(data) && boxes < 16; boxes++ {
		n := int(binary.BigEndian.Uint32(data[at : at+4]))
		if string(data[at+4:at+8]) == "meta" {
			return true
		}
		if n < 8 || n > len(data)-at {
			return false
		}
		at += n
	}
	return false
}
