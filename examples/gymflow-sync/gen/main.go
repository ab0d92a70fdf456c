// Command gen writes the GymFlow demo data of examples/gymflow-sync: an
// export of 1,000 gym members (testdata/members.json) and a feed of the
// changes GymFlow recorded since the export (testdata/changes.json).
//
// Everything comes from a fixed seed (math/rand/v2's PCG) and a fixed
// export date, so running it again reproduces both files byte for byte;
// gen's test fails if the committed files drift from its output. Run it
// from the example's directory, through the example's go:generate line:
//
//	go generate ./examples/gymflow-sync
//
// The members are fictional: names from many cultures, addresses at the
// reserved example domains (RFC 2606), and phone numbers from ranges
// reserved for fiction (555-01xx in North America, Ofcom's drama ranges in
// the UK, ACMA's in Australia, ARCEP's in France, the Bundesnetzagentur's
// in Germany), picked from those that libphonenumber, and so
// contactsync.E164, takes as valid numbers. Six records are deliberately
// bad, as real exports are.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The export's shape. These types are GymFlow's, not the sync's: the
// example reads them with its own definitions.

// Member is one member (or lead) of the export.
type Member struct {
	ID        string `json:"id"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	// Birthday and Joined are in GymFlow's date format, DateLayout.
	Birthday  string   `json:"birthday,omitempty"`
	Plan      string   `json:"plan,omitempty"`
	Joined    string   `json:"joined,omitempty"`
	HomeClub  string   `json:"home_club"`
	Tags      []string `json:"tags"`
	Tasks     []Task   `json:"tasks,omitempty"`
	Notes     []Note   `json:"notes,omitempty"`
	UpdatedAt string   `json:"updated_at"` // RFC 3339
}

// Task is a follow-up task of a member.
type Task struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
	Due   string `json:"due"` // RFC 3339
	Done  bool   `json:"done"`
}

// Note is a note on a member.
type Note struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// Change is one event of GymFlow's change feed.
type Change struct {
	Seq      int      `json:"seq"`
	At       string   `json:"at"` // RFC 3339
	Type     string   `json:"type"`
	MemberID string   `json:"member_id,omitempty"`
	Member   *Member  `json:"member,omitempty"`  // member.updated, lead.signed_up
	Added    []string `json:"added,omitempty"`   // member.tags_changed
	Removed  []string `json:"removed,omitempty"` // member.tags_changed
	Task     *Task    `json:"task,omitempty"`    // task.upserted
	Note     *Note    `json:"note,omitempty"`    // note.upserted
}

// Change types.
const (
	MemberUpdated = "member.updated"
	TagsChanged   = "member.tags_changed"
	TaskUpserted  = "task.upserted"
	NoteUpserted  = "note.upserted"
	MemberDeleted = "member.deleted"
	LeadSignedUp  = "lead.signed_up"
)

// DateLayout is GymFlow's date format: day first.
const DateLayout = "02/01/2006"

// Counts of the generated data.
const (
	NumMembers = 1000
	seed1      = 20260302
	seed2      = 0x67796d666c6f77 // "gymflow"
)

// Export is when the export was taken; the change feed follows it.
var Export = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

// Bad records, by position in the export (1-based member numbers).
var badRecords = map[int]string{
	137: "no email and no phone",
	274: "malformed email (no top-level domain)",
	411: "missing first name",
	548: "malformed email (a space)",
	685: "invalid phone number",
	822: "impossible birthday",
}

func main() {
	out := flag.String("out", "testdata", "directory to write members.json and changes.json to")
	flag.Parse()
	members, changes, err := Generate()
	if err != nil {
		log.Fatal(err)
	}
	for name, data := range map[string][]byte{"members.json": members, "changes.json": changes} {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// Generate returns the two files' contents.
func Generate() (members, changes []byte, err error) {
	g := newGenerator()
	for i := 1; i <= NumMembers; i++ {
		g.members = append(g.members, g.member(i))
	}
	feed := g.changes()
	if members, err = encodeLines(g.members); err != nil {
		return nil, nil, err
	}
	if changes, err = encodeLines(feed); err != nil {
		return nil, nil, err
	}
	return members, changes, nil
}

// encodeLines writes a JSON array with one element per line, so that the
// files diff well.
func encodeLines[T any](items []T) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("[\n")
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i, it := range items {
		if err := enc.Encode(it); err != nil {
			return nil, err
		}
		if i < len(items)-1 {
			b.Truncate(b.Len() - 1)
			b.WriteString(",\n")
		}
	}
	b.WriteString("]\n")
	return b.Bytes(), nil
}

type culture struct {
	weight int
	first  []string
	last   []string
}

var cultures = []culture{
	{22, // English-speaking
		[]string{"Emma", "Olivia", "Liam", "Noah", "James", "Charlotte", "Amelia", "Benjamin", "Harper", "Ethan", "Grace", "Jack", "Chloe", "Samuel", "Madison", "Owen", "Abigail", "Tyler", "Hannah", "Connor"},
		[]string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "O'Brien", "Murphy", "Kelly", "Sullivan"}},
	{18, // Hispanic
		[]string{"José", "María", "Sofía", "Alejandro", "Lucía", "Mateo", "Valentina", "Diego", "Camila", "Santiago", "Isabella", "Javier", "Ximena", "Andrés", "Daniela", "Rodrigo", "Paola", "Emilio"},
		[]string{"García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Morales", "Ortiz", "Castillo", "Núñez"}},
	{10, // East and South-East Asian
		[]string{"Wei", "Mei", "Jun", "Xiaoling", "Hiroshi", "Yuki", "Haruto", "Sakura", "Min-jun", "Seo-yeon", "Ji-ho", "Linh", "Minh", "Thảo"},
		[]string{"Chen", "Wang", "Li", "Zhang", "Liu", "Tanaka", "Sato", "Suzuki", "Takahashi", "Kim", "Park", "Lee", "Choi", "Nguyễn", "Trần", "Phạm", "Lê"}},
	{9, // South Asian
		[]string{"Priya", "Arjun", "Ananya", "Rohan", "Aditi", "Vikram", "Kavya", "Rahul", "Neha", "Sanjay", "Deepika", "Imran", "Ayesha"},
		[]string{"Patel", "Sharma", "Singh", "Gupta", "Iyer", "Reddy", "Nair", "Khan", "Chaudhry", "Banerjee", "Desai", "Rao"}},
	{6, // Middle Eastern and Turkish
		[]string{"Omar", "Layla", "Yusuf", "Fatima", "Karim", "Noor", "Hassan", "Zainab", "Amir", "Leila", "Tariq", "Rania", "Elif", "Emre"},
		[]string{"Haddad", "Khalil", "Nasser", "Saleh", "Aziz", "Hamdan", "Farouk", "Mansour", "Rahimi", "Yılmaz", "Öztürk", "Çelik", "Şahin"}},
	{8, // African
		[]string{"Chinedu", "Amara", "Kwame", "Ngozi", "Thabo", "Zanele", "Abebe", "Ama", "Kofi", "Adaeze", "Sipho", "Wanjiru", "Oluwaseun", "Folake"},
		[]string{"Okafor", "Mensah", "Adeyemi", "Dlamini", "Nkosi", "Bekele", "Osei", "Okonkwo", "Mwangi", "Boateng", "Eze", "Abiodun", "Kamau"}},
	{12, // European
		[]string{"Jürgen", "Lena", "Björn", "Sören", "Åsa", "Lukas", "Mia", "Chloé", "Étienne", "Léa", "Giulia", "Matteo", "Francesca", "Łukasz", "Zofia", "Katarzyna", "Dmitri", "Ivana", "Niamh", "Seán", "Aoife", "Siobhán", "Pieter", "Anouk", "Henrik", "Ingrid", "Sinéad"},
		[]string{"Müller", "Schäfer", "Schmidt", "Becker", "Østergaard", "Lindqvist", "Johansson", "Dubois", "Lefèvre", "Moreau", "Rossi", "Bianchi", "Esposito", "Ricci", "Kowalski", "Nowak", "Novák", "Petrović", "O'Connor", "Byrne", "de Vries", "van den Berg", "Jansen", "Andersen", "Nieminen", "Kovač"}},
}

// club is a GymFlow club and the area codes of its members' phones.
type club struct {
	name  string
	areas []string
}

var clubs = []club{
	{"Chicago Loop", []string{"312", "773"}},
	{"Chicago Wicker Park", []string{"773", "312"}},
	{"Brooklyn Heights", []string{"718", "347", "917"}},
	{"Midtown Manhattan", []string{"212", "646", "917"}},
	{"Austin South Congress", []string{"512", "737"}},
	{"Seattle Capitol Hill", []string{"206", "425"}},
	{"Denver LoDo", []string{"303", "720"}},
	{"Boston Back Bay", []string{"617", "857"}},
	{"San Francisco Mission", []string{"415", "628"}},
	{"Miami Wynwood", []string{"305", "786"}},
}

// newArea is the area code of the phone numbers in the change feed: no
// member of the export has one, so they stay unique.
const newArea = "872"

var (
	plans       = []string{"basic", "plus", "premium", "student", "off-peak"}
	planWeights = []int{35, 30, 20, 10, 5}
	classes     = []string{"yoga", "spin", "hiit", "pilates", "boxing", "crossfit", "swim", "barre", "zumba", "strength"}
	domains     = []string{"example.com", "example.com", "example.com", "example.org", "example.org", "example.net", "example.net", "mail.example.com", "inbox.example", "post.example"}
)

type taskTemplate struct{ title, body string }

var memberTasks = []taskTemplate{
	{"Renewal call", "Membership renews this month. Confirm the plan and payment details."},
	{"30-day check-in", "Ask how the first month went and whether the class schedule works."},
	{"Book fitness assessment", "Offer a free body-composition scan and a goal review."},
	{"Follow up on freeze request", "Asked to pause the membership while travelling; confirm the dates."},
	{"Offer PT intro session", "Showed interest in personal training at the front desk."},
	{"Update payment card", "The card on file expires at the end of the month."},
	{"Class feedback", "Ask for feedback on the new timetable."},
	{"Locker renewal", "Annual locker rental is due."},
}

var leadTasks = []taskTemplate{
	{"Follow up on trial visit", "Came in on a trial pass; call to talk through the plans."},
	{"Send membership pricing", "Asked for student and off-peak prices by email."},
}

var noteTexts = []string{
	"Prefers early-morning classes (6–7 am).",
	"Knee surgery in 2024: avoid high-impact work, cleared for cycling.",
	"Referred by a friend; eligible for the referral discount.",
	"Asked about adding a partner to a family plan.",
	"Travels for work most months; may freeze the membership.",
	"Training for a half marathon in the spring.",
	"Interested in the nutrition workshop.",
	"Needs invoices with the company name for expense claims.",
	"Lost access card replaced at the front desk.",
	"Prefers texts to phone calls.",
}

type generator struct {
	rng     *rand.Rand
	members []Member
	emails  map[string]bool // normalised
	phones  map[string]bool // E.164 digits
	tasks   int
	notes   int
}

func newGenerator() *generator {
	return &generator{rng: rand.New(rand.NewPCG(seed1, seed2)), emails: map[string]bool{}, phones: map[string]bool{}}
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) weighted(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func (g *generator) name() (first, last string) {
	weights := make([]int, len(cultures))
	for i, c := range cultures {
		weights[i] = c.weight
	}
	c := cultures[g.weighted(weights)]
	first, last = g.pick(c.first), g.pick(c.last)
	if g.chance(0.2) { // families and names mix
		last = g.pick(cultures[g.weighted(weights)].last)
	}
	if g.chance(0.03) && slices.Contains(cultures[1].last, last) { // two surnames
		last += " " + g.pick(cultures[1].last)
	}
	return first, last
}

// fold maps the non-ASCII letters of the names to ASCII for addresses.
var fold = map[rune]string{
	'á': "a", 'à': "a", 'â': "a", 'ä': "a", 'å': "a", 'ầ': "a", 'ạ': "a", 'ả': "a",
	'é': "e", 'è': "e", 'ê': "e", 'ë': "e", 'ễ': "e",
	'í': "i", 'ı': "i", 'ó': "o", 'ö': "o", 'ø': "o", 'ú': "u", 'ü': "u",
	'ñ': "n", 'ł': "l", 'ć': "c", 'č': "c", 'ç': "c", 'ş': "s", 'ß': "ss",
}

// slug turns a name into the letters of an email address.
func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case fold[r] != "":
			b.WriteString(fold[r])
		case unicode.IsLetter(r):
			panic(fmt.Sprintf("gen: no ASCII folding for %q in %q", r, name))
		}
	}
	return b.String()
}

func (g *generator) email(first, last string) string {
	f, l := slug(first), slug(last)
	for try := 0; ; try++ {
		var local string
		switch g.rng.IntN(6) {
		case 0, 1:
			local = f + "." + l
		case 2:
			local = f + l
		case 3:
			local = f[:1] + "." + l
		case 4:
			local = f + "_" + l
		default:
			local = fmt.Sprintf("%s%s%02d", f, l[:1], g.rng.IntN(100))
		}
		if try > 2 {
			local += fmt.Sprint(g.rng.IntN(1000))
		}
		addr := local + "@" + g.pick(domains)
		if !g.emails[addr] {
			g.emails[addr] = true
			return addr
		}
	}
}

// messy returns an address as people type it: mostly clean, sometimes in
// capitals or with stray spaces (the mapping's Email transform cleans it).
func (g *generator) messy(addr string) string {
	switch n := g.rng.IntN(100); {
	case n < 3:
		local, domain, _ := strings.Cut(addr, "@")
		parts := strings.Split(local, ".")
		for i, p := range parts {
			if p != "" {
				parts[i] = strings.ToUpper(p[:1]) + p[1:]
			}
		}
		return strings.Join(parts, ".") + "@" + strings.ToUpper(domain[:1]) + domain[1:]
	case n < 5:
		return " " + addr + " "
	}
	return addr
}

// usPhone returns a fictional North American number (NPA-555-01XX) in one
// of the ways people write them.
func (g *generator) usPhone(areas []string) string {
	for try := 0; ; try++ {
		area := g.pick(areas)
		if try > 5 || g.chance(0.15) { // moved, or kept an old number
			area = g.pick(clubs[g.rng.IntN(len(clubs))].areas)
		}
		line := fmt.Sprintf("01%02d", g.rng.IntN(100))
		if g.phones["1"+area+"555"+line] {
			continue
		}
		g.phones["1"+area+"555"+line] = true
		return g.formatUS(area, line)
	}
}

func (g *generator) formatUS(area, line string) string {
	switch g.rng.IntN(9) {
	case 0, 1:
		return fmt.Sprintf("(%s) 555-%s", area, line)
	case 2, 3:
		return fmt.Sprintf("%s-555-%s", area, line)
	case 4:
		return fmt.Sprintf("%s.555.%s", area, line)
	case 5:
		return fmt.Sprintf("%s555%s", area, line)
	case 6:
		return fmt.Sprintf("1-%s-555-%s", area, line)
	case 7:
		return fmt.Sprintf("+1 %s 555 %s", area, line)
	default:
		return fmt.Sprintf("+1 (%s) 555-%s", area, line)
	}
}

// intlPhone returns a fictional number of another country, written
// internationally (the only way a US-based club can read it).
func (g *generator) intlPhone() string {
	for {
		n := g.rng.IntN(1000)
		var digits, text string
		switch g.rng.IntN(7) {
		case 0: // Manchester, Ofcom drama range 0161 496 0000–0999 (the
			// mobile drama range 07700 900xxx is not a valid number)
			digits = fmt.Sprintf("441614960%03d", n)
			text = fmt.Sprintf("+44 161 496 0%03d", n)
		case 1: // the same, dialled from the US
			digits = fmt.Sprintf("441614960%03d", n)
			text = fmt.Sprintf("011 44 161 496 0%03d", n)
		case 2: // London, 020 7946 0000–0999, with the UK's "(0)"
			digits = fmt.Sprintf("4420794600%02d", n%100)
			text = fmt.Sprintf("+44 (0)20 7946 00%02d", n%100)
		case 3: // Berlin, 030 23125 000–999
			digits = fmt.Sprintf("493023125%03d", n)
			text = fmt.Sprintf("+49 30 23125%03d", n)
		case 4: // Sydney, 02 5550 xxxx
			digits = fmt.Sprintf("61255500%03d", n)
			text = fmt.Sprintf("+61 2 5550 0%03d", n)
		case 5: // Paris, ARCEP's fiction range 01 99 00 xx xx (its mobile
			// range 06 39 98 xx xx is not a valid number)
			digits = fmt.Sprintf("3319900%04d", n)
			text = fmt.Sprintf("+33 1 99 00 %02d %02d", n/100, n%100)
		default:
			digits = fmt.Sprintf("441614960%03d", n)
			text = fmt.Sprintf("+441614960%03d", n)
		}
		if !g.phones[digits] {
			g.phones[digits] = true
			return text
		}
	}
}

func (g *generator) date(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	return from.AddDate(0, 0, g.rng.IntN(days+1))
}

func (g *generator) task(t taskTemplate, lead bool) Task {
	g.tasks++
	due := Export.AddDate(0, 0, g.rng.IntN(76)-45).Truncate(24 * time.Hour).Add(time.Duration(9+g.rng.IntN(9))*time.Hour + time.Duration(30*g.rng.IntN(2))*time.Minute)
	done := due.Before(Export) && g.chance(0.75) || !due.Before(Export) && g.chance(0.05)
	if lead {
		done = false
	}
	return Task{ID: fmt.Sprintf("tsk-%05d", g.tasks), Title: t.title, Body: t.body, Due: due.Format(time.RFC3339), Done: done}
}

func (g *generator) note(text string) Note {
	g.notes++
	return Note{ID: fmt.Sprintf("nte-%05d", g.notes), Body: text}
}

func (g *generator) member(i int) Member {
	first, last := g.name()
	c := clubs[g.rng.IntN(len(clubs))]
	m := Member{ID: fmt.Sprintf("mbr-%05d", i), FirstName: first, LastName: last, HomeClub: c.name}
	lead := g.chance(0.04)

	hasEmail, hasPhone := g.chance(0.95), g.chance(0.85)
	if !hasEmail {
		hasPhone = true
	}
	if hasEmail {
		m.Email = g.messy(g.email(first, last))
	}
	if hasPhone {
		if g.chance(0.85) {
			m.Phone = g.usPhone(c.areas)
		} else {
			m.Phone = g.intlPhone()
		}
	}
	if g.chance(0.92) {
		age := 16 + g.rng.IntN(58)
		year := Export.Year() - age
		m.Birthday = g.date(time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC)).Format(DateLayout)
	}
	var joined time.Time
	if lead {
		m.Tags = []string{"lead"}
		if g.chance(0.5) {
			m.Tags = append(m.Tags, "trial-pass")
		}
		joined = Export.AddDate(0, 0, -1-g.rng.IntN(30))
	} else {
		m.Plan = plans[g.weighted(planWeights)]
		joined = g.date(time.Date(2015, 6, 1, 0, 0, 0, 0, time.UTC), Export.AddDate(0, 0, -1))
		m.Joined = joined.Format(DateLayout)
		m.Tags = []string{"member", "plan:" + m.Plan}
		if g.chance(0.1) {
			m.Tags = append(m.Tags, "pt-client")
		}
		if g.chance(0.3) {
			m.Tags = append(m.Tags, "newsletter")
		}
	}
	for _, k := range g.rng.Perm(len(classes))[:g.weighted([]int{30, 35, 25, 10})] {
		m.Tags = append(m.Tags, "class:"+classes[k])
	}
	slices.Sort(m.Tags)

	switch {
	case lead:
		m.Tasks = append(m.Tasks, g.task(leadTasks[g.rng.IntN(len(leadTasks))], true))
	case g.chance(0.45):
		perm := g.rng.Perm(len(memberTasks))
		for k := range 1 + g.weighted([]int{78, 22}) {
			m.Tasks = append(m.Tasks, g.task(memberTasks[perm[k]], false))
		}
	}
	if g.chance(0.3) {
		perm := g.rng.Perm(len(noteTexts))
		for k := range 1 + g.weighted([]int{85, 15}) {
			m.Notes = append(m.Notes, g.note(noteTexts[perm[k]]))
		}
	}
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if joined.After(since) {
		since = joined
	}
	m.UpdatedAt = since.Add(time.Duration(g.rng.Int64N(int64(Export.Sub(since))))).Truncate(time.Second).Format(time.RFC3339)

	switch badRecords[i] {
	case "no email and no phone":
		m.Email, m.Phone = "", ""
	case "malformed email (no top-level domain)":
		m.Email = slug(first) + "." + slug(last) + "@example"
	case "missing first name":
		m.FirstName = ""
	case "malformed email (a space)":
		m.Email = slug(first) + " " + slug(last) + "@example.com"
	case "invalid phone number":
		m.Phone = "555-014"
	case "impossible birthday":
		m.Birthday = "31/02/1987"
	}
	return m
}

func clone(m Member) Member {
	m.Tags = slices.Clone(m.Tags)
	m.Tasks = slices.Clone(m.Tasks)
	m.Notes = slices.Clone(m.Notes)
	return m
}

func (m *Member) isLead() bool { return slices.Contains(m.Tags, "lead") }

func classTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if strings.HasPrefix(t, "class:") {
			out = append(out, t)
		}
	}
	return out
}

func replaceTag(tags []string, old, new string) []string {
	out := slices.DeleteFunc(slices.Clone(tags), func(t string) bool { return t == old })
	if new != "" && !slices.Contains(out, new) {
		out = append(out, new)
	}
	slices.Sort(out)
	return out
}

// changes returns the change feed: what GymFlow recorded on the export's
// day. Each event touches a different member, except one sign-up that is
// delivered twice.
func (g *generator) changes() []Change {
	used := map[int]bool{}
	for i := range badRecords {
		used[i-1] = true
	}
	// take returns a random member not touched yet that satisfies ok.
	take := func(ok func(m *Member) bool) *Member {
		for _, i := range g.rng.Perm(len(g.members)) {
			if !used[i] && ok(&g.members[i]) {
				used[i] = true
				return &g.members[i]
			}
		}
		panic("gen: no member left for a change")
	}
	member := func(m *Member) bool { return !m.isLead() }
	var feed []Change
	add := func(c Change) { feed = append(feed, c) }

	// Plan changes: the record with its new plan and plan tag.
	nextPlan := map[string]string{"basic": "plus", "plus": "premium", "premium": "plus", "student": "basic", "off-peak": "basic"}
	for range 8 {
		m := clone(*take(member))
		m.Tags = replaceTag(m.Tags, "plan:"+m.Plan, "plan:"+nextPlan[m.Plan])
		m.Plan = nextPlan[m.Plan]
		add(Change{Type: MemberUpdated, Member: &m})
	}
	// Leads who joined: a plan, a join date, member tags, the follow-up done.
	for range 2 {
		m := clone(*take(func(m *Member) bool { return m.isLead() }))
		m.Plan = "basic"
		m.Joined = Export.Format(DateLayout)
		m.Tags = replaceTag(m.Tags, "lead", "member")
		m.Tags = replaceTag(m.Tags, "trial-pass", "plan:basic")
		for k := range m.Tasks {
			m.Tasks[k].Done = true
		}
		add(Change{Type: MemberUpdated, Member: &m})
	}
	// Contact details edited at the front desk.
	for k := range 4 {
		m := clone(*take(func(m *Member) bool { return member(m) && m.Email != "" && m.Phone != "" }))
		switch k {
		case 0, 1: // a new surname
			m.LastName = g.pick(cultures[g.rng.IntN(len(cultures))].last)
		case 2:
			m.Email = g.email(m.FirstName, m.LastName)
		case 3:
			m.Phone = g.newPhone()
		}
		add(Change{Type: MemberUpdated, Member: &m})
	}
	// The malformed address of record 274 corrected.
	fixed := clone(g.members[273])
	fixed.Email += ".com"
	add(Change{Type: MemberUpdated, Member: &fixed})
	// A record sent again without a change.
	same := clone(*take(member))
	add(Change{Type: MemberUpdated, Member: &same})

	// Class tags: some added, some dropped, some swapped.
	for k := range 8 {
		m := take(func(m *Member) bool { return member(m) && len(classTags(m.Tags)) > 0 })
		c := Change{Type: TagsChanged, MemberID: m.ID}
		if k%3 != 0 {
			have := classTags(m.Tags)
			c.Removed = []string{have[g.rng.IntN(len(have))]}
		}
		if k%3 != 1 {
			for _, i := range g.rng.Perm(len(classes)) {
				if t := "class:" + classes[i]; !slices.Contains(m.Tags, t) {
					c.Added = []string{t}
					break
				}
			}
		}
		add(c)
	}
	// New tasks, and open tasks completed.
	for range 6 {
		m := take(member)
		t := g.task(memberTasks[g.rng.IntN(len(memberTasks))], false)
		t.Due = Export.AddDate(0, 0, 1+g.rng.IntN(14)).Add(10 * time.Hour).Format(time.RFC3339)
		t.Done = false
		add(Change{Type: TaskUpserted, MemberID: m.ID, Task: &t})
	}
	for range 6 {
		m := take(func(m *Member) bool {
			return member(m) && slices.ContainsFunc(m.Tasks, func(t Task) bool { return !t.Done })
		})
		k := slices.IndexFunc(m.Tasks, func(t Task) bool { return !t.Done })
		t := m.Tasks[k]
		t.Done = true
		add(Change{Type: TaskUpserted, MemberID: m.ID, Task: &t})
	}
	// New notes, and one edited.
	for range 4 {
		m := take(member)
		n := g.note(noteTexts[g.rng.IntN(len(noteTexts))])
		add(Change{Type: NoteUpserted, MemberID: m.ID, Note: &n})
	}
	{
		m := take(func(m *Member) bool { return member(m) && len(m.Notes) > 0 })
		n := m.Notes[0]
		n.Body += " Update: discussed at the last visit."
		add(Change{Type: NoteUpserted, MemberID: m.ID, Note: &n})
	}
	// Sign-ups from the website; the first is delivered twice.
	for k := range 5 {
		l := g.lead(NumMembers + 1 + k)
		add(Change{Type: LeadSignedUp, Member: &l})
		if k == 0 {
			again := clone(l)
			add(Change{Type: LeadSignedUp, Member: &again})
		}
	}
	// Members who left.
	for range 4 {
		add(Change{Type: MemberDeleted, MemberID: take(member).ID})
	}

	// Events arrive interleaved (the two deliveries of a sign-up are
	// identical, so their order does not matter).
	g.rng.Shuffle(len(feed), func(i, j int) { feed[i], feed[j] = feed[j], feed[i] })
	at := Export
	signedUp := map[string]string{}
	for i := range feed {
		at = at.Add(time.Duration(5+g.rng.IntN(20)) * time.Minute)
		c := &feed[i]
		c.Seq = i + 1
		c.At = at.Format(time.RFC3339)
		if m := c.Member; m != nil {
			c.MemberID = m.ID
			switch {
			case c.Type == LeadSignedUp && signedUp[m.ID] != "":
				m.UpdatedAt = signedUp[m.ID] // the same record again
			case c.Type == LeadSignedUp:
				m.UpdatedAt, signedUp[m.ID] = c.At, c.At
			case m.ID != same.ID:
				m.UpdatedAt = c.At
			}
		}
	}
	return feed
}

// newPhone returns a number unused by the export (area code newArea).
func (g *generator) newPhone() string {
	for {
		line := fmt.Sprintf("01%02d", g.rng.IntN(100))
		if !g.phones["1"+newArea+"555"+line] {
			g.phones["1"+newArea+"555"+line] = true
			return fmt.Sprintf("(%s) 555-%s", newArea, line)
		}
	}
}

// lead returns a new lead signed up from the website.
func (g *generator) lead(i int) Member {
	first, last := g.name()
	m := Member{ID: fmt.Sprintf("mbr-%05d", i), FirstName: first, LastName: last,
		Email: g.email(first, last), Phone: g.newPhone(), HomeClub: clubs[g.rng.IntN(len(clubs))].name,
		Tags: []string{"lead", "class:" + g.pick(classes)}}
	slices.Sort(m.Tags)
	return m
}
