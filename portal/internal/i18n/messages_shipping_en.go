package i18n

// shippingEN: Shipping details (seed 000, "Détails de l'adresse"): only
// the attention name, the suite / mail stop and the phone are edited
// online; the rest is the back office's.
var shippingEN = map[string]string{
	"shipping.title":           "Shipping details",
	"shipping.intro":           "Edit select details of your shipping location(s).",
	"shipping.editable":        "You can change the attention name, the suite / mail stop and the phone number online.",
	"shipping.readonly":        "The company, street, city, province, postal code and country are changed by our customer service only, so that supplies always reach the right place. To have them changed, write to us from the page",
	"shipping.address_n":       "Shipping address %d",
	"shipping.field.company":   "Company",
	"shipping.field.street":    "Street address",
	"shipping.field.city":      "City",
	"shipping.field.province":  "Province",
	"shipping.field.postal":    "Postal code",
	"shipping.field.country":   "Country",
	"shipping.field.attention": "Attention",
	"shipping.field.suite":     "Suite / mail stop",
	"shipping.field.phone":     "Phone",
	"shipping.submit":          "Save",
	"shipping.error.invalid":   "Each field holds at most 100 characters, on one line.",
	"shipping.none":            "This account has no shipping address yet: our customer service adds them.",
	"notice.shipping_saved":    "The shipping details are saved.",
}
