package i18n

// shippingFR: Détails de l'expédition (seed 000, « Détails de l'adresse ») :
// seuls le nom de l'attention, la suite / le bureau et le téléphone se
// modifient en ligne ; le reste relève de notre service.
var shippingFR = map[string]string{
	"shipping.title":           "Adresse détaillée",
	"shipping.intro":           "Modifiez certains détails de vos adresses d'expédition.",
	"shipping.editable":        "Vous pouvez modifier en ligne le nom de l'attention, la suite / le bureau et le numéro de téléphone.",
	"shipping.readonly":        "L'entreprise, la rue, la ville, la province, le code postal et le pays ne sont modifiés que par notre service à la clientèle, pour que les fournitures arrivent toujours au bon endroit. Pour les faire modifier, écrivez-nous depuis la page",
	"shipping.address_n":       "Adresse d'expédition %d",
	"shipping.field.company":   "Entreprise",
	"shipping.field.street":    "Adresse / rue",
	"shipping.field.city":      "Ville",
	"shipping.field.province":  "Province",
	"shipping.field.postal":    "Code postal",
	"shipping.field.country":   "Pays",
	"shipping.field.attention": "À l'attention de",
	"shipping.field.suite":     "Suite / bureau",
	"shipping.field.phone":     "Téléphone",
	"shipping.submit":          "Enregistrer",
	"shipping.error.invalid":   "Chaque champ tient sur une ligne de 100 caractères au plus.",
	"shipping.none":            "Ce compte n'a pas encore d'adresse d'expédition : notre service à la clientèle les ajoute.",
	"notice.shipping_saved":    "Les détails de l'expédition sont enregistrés.",
}
