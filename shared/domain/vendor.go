package domain

import "strings"

// Printer manufacturers, by the lower-case slug the agent reports in
// wire.DeviceRead.Vendor. OEM brands report their manufacturer (a Savin is
// a Ricoh, a UTAX a Kyocera, a Develop a Konica Minolta).
const (
	VendorHP            = "hp"
	VendorXerox         = "xerox"
	VendorFujiXerox     = "fuji_xerox"
	VendorRicoh         = "ricoh"
	VendorKyocera       = "kyocera"
	VendorKonicaMinolta = "konica_minolta"
	VendorCanon         = "canon"
	VendorBrother       = "brother"
	VendorLexmark       = "lexmark"
	VendorSharp         = "sharp"
	VendorToshiba       = "toshiba"
	VendorEpson         = "epson"
	VendorOKI           = "oki"
	VendorSamsung       = "samsung"
	VendorDell          = "dell"
	VendorZebra         = "zebra"
)

var vendorNames = map[string]string{
	VendorHP:            "HP",
	VendorXerox:         "Xerox",
	VendorFujiXerox:     "Fuji Xerox",
	VendorRicoh:         "Ricoh",
	VendorKyocera:       "Kyocera",
	VendorKonicaMinolta: "Konica Minolta",
	VendorCanon:         "Canon",
	VendorBrother:       "Brother",
	VendorLexmark:       "Lexmark",
	VendorSharp:         "Sharp",
	VendorToshiba:       "Toshiba",
	VendorEpson:         "Epson",
	VendorOKI:           "OKI",
	VendorSamsung:       "Samsung",
	VendorDell:          "Dell",
	VendorZebra:         "Zebra",
}

// VendorName is the name to show people for a vendor slug; an unknown slug
// is shown as it is.
func VendorName(slug string) string {
	if n, ok := vendorNames[slug]; ok {
		return n
	}
	return slug
}

// DeviceLabel is how to name a device to people: vendor and model, without
// saying the vendor twice when the model already starts with it ("HP",
// "HP LaserJet M404" → "HP LaserJet M404").
func DeviceLabel(vendorSlug, model string) string {
	name := VendorName(vendorSlug)
	switch {
	case model == "":
		return name
	case name == "",
		strings.HasPrefix(strings.ToLower(model), strings.ToLower(name)),
		strings.HasPrefix(strings.ToLower(model), strings.ReplaceAll(vendorSlug, "_", " ")):
		return model
	default:
		return name + " " + model
	}
}
