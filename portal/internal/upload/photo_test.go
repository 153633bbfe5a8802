package upload

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/domain"
)

// pngBytes is a small PNG of w×h pixels.
func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 3)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes is a lossless WebP header of a 1×1 image (what DecodeConfig
// reads).
func webpBytes() []byte {
	payload := []byte{0x2f, 0, 0, 0, 0, 0} // VP8L signature, 1×1, padded to even
	b := []byte("RIFF\x12\x00\x00\x00WEBPVP8L\x05\x00\x00\x00")
	return append(b, payload...)
}

// isoFile is an ISO-BMFF file: an ftyp box with brands, then a meta box.
func isoFile(major string, compatible ...string) []byte {
	ftyp := []byte(major + "\x00\x00\x00\x00" + strings.Join(compatible, ""))
	b := append([]byte{0, 0, 0, byte(8 + len(ftyp))}, "ftyp"...)
	b = append(b, ftyp...)
	return append(b, 0, 0, 0, 12, 'm', 'e', 't', 'a', 0, 0, 0, 0)
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want Kind
		w, h int
		err  error
	}{
		{"png", pngBytes(t, 3, 2), PNG, 3, 2, nil},
		{"jpeg", jpegBytes(t), JPEG, 4, 3, nil},
		{"webp", webpBytes(), WebP, 1, 1, nil},
		{"heic", isoFile("heic", "mif1", "heic"), HEIC, 0, 0, nil},
		{"heic by a compatible brand", isoFile("mif1", "mif1", "heix"), HEIC, 0, 0, nil},
		{"avif is not heic", isoFile("avif", "mif1", "avif"), Kind{}, 0, 0, ErrNotImage},
		{"mp4 video", isoFile("isom", "isom", "mp41"), Kind{}, 0, 0, ErrNotImage},
		{"heic brand without its meta box", isoFile("heic", "heic")[:20], Kind{}, 0, 0, ErrNotImage},
		{"text renamed .jpg", []byte("compteur noir 39684, couleur 89675\n"), Kind{}, 0, 0, ErrNotImage},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), Kind{}, 0, 0, ErrNotImage},
		{"a PNG signature and nothing else", []byte("\x89PNG\r\n\x1a\n"), Kind{}, 0, 0, ErrNotImage},
		{"a JPEG start and garbage", []byte("\xff\xd8\xff\xe0 not a jpeg at all"), Kind{}, 0, 0, ErrNotImage},
		{"svg (may carry script)", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), Kind{}, 0, 0, ErrNotImage},
	}
	for _, tt := range tests {
		p, err := Detect(tt.data)
		if !errors.Is(err, tt.err) || p.Kind != tt.want || p.Width != tt.w || p.Height != tt.h {
			t.Errorf("%s: %+v, %v; want %v %dx%d, %v", tt.name, p, err, tt.want, tt.w, tt.h, tt.err)
		}
	}
}

func TestPhotos(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "uploads")
	ph, err := OpenPhotos(dir, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Close()
	img := pngBytes(t, 8, 8)
	saved, err := ph.Save(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if !storedName.MatchString(saved.Name) || saved.Kind != PNG || saved.Size != int64(len(img)) {
		t.Errorf("saved %+v", saved)
	}
	st, err := os.Stat(filepath.Join(dir, saved.Name))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("stored file: %v, %v (want mode 0600)", st, err)
	}
	again, _ := ph.Save(bytes.NewReader(img))
	if again.Name == saved.Name {
		t.Error("two photos got the same name")
	}
	f, kind, err := ph.Open(saved.Name)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, img) || kind != PNG {
		t.Errorf("read back %d bytes as %v", len(got), kind)
	}

	// Refusals store nothing.
	for _, tc := range []struct {
		name string
		data []byte
		err  error
	}{
		{"too large", append(pngBytes(t, 1, 1), make([]byte, 4096)...), ErrTooLarge},
		{"exactly one byte too many", make([]byte, 4097), ErrTooLarge},
		{"empty", nil, ErrEmpty},
		{"not an image", []byte("hello"), ErrNotImage},
	} {
		if _, err := ph.Save(bytes.NewReader(tc.data)); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the folder holds %d files, want the 2 photos", len(entries))
	}

	for _, name := range []string{"../uploads/" + saved.Name, "/etc/passwd", saved.Name + ".part", "x.png", strings.ToUpper(saved.Name)} {
		if _, _, err := ph.Open(name); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Open(%q) = %v, want ENOTFOUND", name, err)
		}
	}
	if err := ph.Remove(saved.Name); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ph.Open(saved.Name); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("a removed photo opens: %v", err)
	}
	if err := ph.Remove(saved.Name); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}

func TestOpenPhotosDefaults(t *testing.T) {
	ph, err := OpenPhotos(t.TempDir(), 0)
	if err != nil || ph.MaxBytes() != DefaultMaxBytes {
		t.Fatalf("OpenPhotos = %v, %v", ph, err)
	}
	ph.Close()
	if _, err := OpenPhotos("", 0); err == nil {
		t.Error("no folder accepted")
	}
	if _, err := OpenPhotos(t.TempDir(), -1); err == nil {
		t.Error("a negative limit accepted")
	}
}
