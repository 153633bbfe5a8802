package domain

// The customer domain's enumerations (issue 14, DESIGN §5 and §6): each is
// stored as its string in a column whose CHECK constraint lists the same
// values, and Valid says whether a value is one of them.

// Language is the language an account or a user is written to in.
type Language string

// Languages.
const (
	LanguageFrench  Language = "fr"
	LanguageEnglish Language = "en"
)

// Valid reports whether l is a known language.
func (l Language) Valid() bool { return l == LanguageFrench || l == LanguageEnglish }

// Role is what a user may do on an account.
type Role string

// Roles. An account has at most MaxDelegates delegates (seed 000).
const (
	RolePrimary    Role = "primary"
	RoleDelegate   Role = "delegate"
	RoleBackOffice Role = "back_office"
)

// MaxDelegates is how many delegates an account may have.
const MaxDelegates = 2

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RolePrimary || r == RoleDelegate || r == RoleBackOffice }

// BillingPeriod is how often a contract bills its meters.
type BillingPeriod string

// Billing periods (quarterly by default, DESIGN §5).
const (
	BillingQuarterly BillingPeriod = "quarterly"
	BillingMonthly   BillingPeriod = "monthly"
)

// Valid reports whether p is a known billing period.
func (p BillingPeriod) Valid() bool { return p == BillingQuarterly || p == BillingMonthly }

// ContractState is where a device under contract stands: active, asked to
// be removed (shown with "*", no longer orderable; seed 000), or removed.
type ContractState string

// Contract states.
const (
	ContractActive         ContractState = "active"
	ContractPendingRemoval ContractState = "pending_removal"
	ContractRemoved        ContractState = "removed"
)

// Review states of a device an account's agent reported that the account
// had not registered (ownership at ingest, issue 14): unconfirmed until the
// back office confirms it (puts it under contract, ContractActive) or
// rejects it (it keeps its reads and is never billed). They share the
// device's state column with the contract states, but are none of them:
// Valid refuses them.
const (
	DeviceUnconfirmed ContractState = "unconfirmed"
	DeviceRejected    ContractState = "rejected"
)

// Valid reports whether s is a known contract state.
func (s ContractState) Valid() bool {
	return s == ContractActive || s == ContractPendingRemoval || s == ContractRemoved
}

// ReplenishmentState is a device's auto-replenishment state (seed 000).
type ReplenishmentState string

// Auto-replenishment states.
const (
	ReplenishmentEligible   ReplenishmentState = "eligible"
	ReplenishmentActive     ReplenishmentState = "active"
	ReplenishmentIneligible ReplenishmentState = "ineligible"
)

// Valid reports whether s is a known auto-replenishment state.
func (s ReplenishmentState) Valid() bool {
	return s == ReplenishmentEligible || s == ReplenishmentActive || s == ReplenishmentIneligible
}
