package fw

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// The table a run leaves is kept in NFTables.Cache, as "nft list table"
// prints it, with the ruleset generation (nftGen) that followed: while the
// generation is still that one, nothing has changed any table since, and the
// next run diffs against the file instead of listing 100,000 elements again
// (0.8 s of nft's and the kernel's time; the kernel walks a set from its
// first element again for every 32 KB of a dump). Any change, ours or
// anybody's, moves the generation on, and the run after it lists the table.
//
// The first line names what the generation counts in: the boot (a counter
// that starts again at every boot) and the network namespace (the calling
// thread's: a test moves its locked thread into a namespace of its own).

// nftCacheHead is the cache's first line for generation gen here, or "" when
// this host's boot or network namespace cannot be told.
func nftCacheHead(gen uint32) string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	var ns syscall.Stat_t
	if err := syscall.Stat("/proc/thread-self/ns/net", &ns); err != nil {
		return ""
	}
	return fmt.Sprintf("# fail2ban-scan: table %s at nftables generation %d, network namespace %d:%d, boot %s\n",
		nftTableRef, gen, ns.Dev, ns.Ino, strings.TrimSpace(string(boot)))
}

// readCache returns the table the cache holds when it is the table of
// generation gen here, else nil, and the input it names ("": none). When
// that is input (not ""), it returns no table: it need not be read.
func (f *NFTables) readCache(gen uint32, input string) (live *nftLive, madeFor string) {
	if f.Cache == "" {
		return nil, ""
	}
	head := nftCacheHead(gen)
	b, err := os.ReadFile(f.Cache)
	if head == "" || err != nil || !bytes.HasPrefix(b, []byte(head)) {
		return nil, ""
	}
	b = b[len(head):]
	if rest, ok := bytes.CutPrefix(b, []byte(inputPrefix)); ok {
		line, rest, _ := bytes.Cut(rest, []byte("\n"))
		if madeFor = string(line); input != "" && madeFor == input {
			return nil, madeFor
		}
		b = rest
	}
	live, err = parseNFT(b)
	if err != nil || !live.exists {
		return nil, ""
	}
	return live, madeFor
}

// inputPrefix starts the cache's second line, when the table was made for
// jails whose bans all have a Sum: the line names inputSum of them. While the
// generation is the cache's, a run asked for the same input has nothing to do
// and need not even load the bans: a minute run with nothing new over 100,000
// bans left as text in the state (state.LoadLazy) reads two lines.
const inputPrefix = "# input "

// inputSum stands for what the table holds when it is made for jails: their
// names, ports, protocols, block types and the Sums of their bans. It is ""
// when there are no jails or one has no Sum.
func inputSum(jails []Jail) string {
	return sumOf(jails, func(j Jail) string { return j.Sum })
}

// baseSum is inputSum of the jails before they lifted what they lift (the
// Base of each that has one): "" when none has one.
func baseSum(jails []Jail) string {
	if !slices.ContainsFunc(jails, func(j Jail) bool { return j.Base != "" }) {
		return ""
	}
	return sumOf(jails, func(j Jail) string { return cmp.Or(j.Base, j.Sum) })
}

func sumOf(jails []Jail, sum func(Jail) string) string {
	if len(jails) == 0 {
		return ""
	}
	h := sha256.New()
	for _, j := range jails {
		if sum(j) == "" {
			return ""
		}
		fmt.Fprintf(h, "%q %q %q %q %q %q\n", j.Name, j.Ports, j.Protocol, j.BlockType, j.Action, sum(j))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeCache keeps listing (nftLive.listing) as the table of generation gen;
// nil (no table) removes the cache. It is a cache: when it cannot be
// written, the next run lists the table.
func (f *NFTables) writeCache(gen uint32, listing []byte, input string) {
	if f.Cache == "" {
		return
	}
	head := nftCacheHead(gen)
	if listing == nil || head == "" {
		os.Remove(f.Cache)
		return
	}
	// One name: runs that write it hold the state's lock, and one killed before the rename
	// leaves one file, which the next overwrites.
	tmp := filepath.Join(filepath.Dir(f.Cache), "."+filepath.Base(f.Cache)+".tmp")
	if input != "" {
		head += inputPrefix + input + "\n"
	}
	err := writeFile(tmp, head, listing)
	if err == nil {
		err = os.Rename(tmp, f.Cache)
	}
	if err != nil {
		os.Remove(tmp)
		os.Remove(f.Cache)
	}
}

// listing is live as "nft list table" prints it (parseNFT reads it back), or
// nil when there is no table.
func (l *nftLive) listing() []byte {
	if l == nil || !l.exists {
		return nil
	}
	var b bytes.Buffer
	n := 4096
	for _, s := range l.sets {
		for _, e := range s.elems {
			n += len(e) + 2
		}
		n += len(s.bans) * len("255.255.255.255, ")
	}
	b.Grow(n) // one buffer, not one per doubling: 100,000 elements are 1.5 MB
	b.WriteString("table " + nftTableRef + " {\n")
	for _, name := range slices.Sorted(maps.Keys(l.sets)) {
		s := l.sets[name]
		b.WriteString("\tset " + name + " {\n")
		for _, d := range s.decl {
			b.WriteString("\t\t" + d + "\n")
		}
		if len(s.elems) > 0 || len(s.bans) > 0 {
			b.WriteString("\t\telements = { ")
			for i, e := range s.elems {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(e)
			}
			var buf []byte
			for i, p := range s.bans {
				if i > 0 || len(s.elems) > 0 {
					b.WriteString(", ")
				}
				buf = appendElem(buf[:0], p)
				b.Write(buf)
			}
			b.WriteString(" }\n")
		}
		b.WriteString("\t}\n")
	}
	for _, name := range slices.Sorted(maps.Keys(l.chains)) {
		c := l.chains[name]
		b.WriteString("\tchain " + name + " {\n")
		if c.hook != "" {
			b.WriteString("\t\t" + c.hook + "\n")
		}
		for _, r := range c.rules {
			b.WriteString("\t\t" + r + "\n")
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// wantLive is the table nftDiff writes over cur for jails, whose sets are
// want (nftWant): nftDiff(wantLive(cur, jails, want), jails, want) is empty.
// A set of cur that stays (keepDecl) keeps its declaration. It is nil when
// there is no jail.
func wantLive(cur *nftLive, jails []Jail, want map[string]wantSet) *nftLive {
	if len(jails) == 0 {
		return nil
	}
	live := &nftLive{exists: true, sets: map[string]*liveSet{}, chains: map[string]*liveChain{}}
	for name, w := range want {
		decl := setDecl(w.fam, w.bans)
		if s := cur.sets[name]; s != nil && keepDecl(s.decl, w) {
			decl = s.decl
		}
		live.sets[name] = &liveSet{decl: decl, bans: w.bans}
	}
	for _, j := range jails {
		live.chains[ChainName(j.Name)] = &liveChain{hook: nftHook, rules: nftRules(j)}
	}
	return live
}

// lift adds and deletes what jails add and lift to and from cur, the table
// of the cache at generation gen, made for their baseSum: the run's whole
// change, as it is their only one. The cache becomes the table made for
// input. ok is false, and cur unchanged, when the change is not addresses in
// plain sets (a prefix added, a set missing or an interval set) or a set
// would have too little room left (roomFor): then the table is diffed as
// usual.
func (f *NFTables) lift(ctx context.Context, cur *nftLive, jails []Jail, gen uint32, input string, dryRun bool) (plan *Plan, ok bool, err error) {
	for _, j := range jails {
		if len(j.Added)+len(j.Lifted) == 0 {
			continue
		}
		for _, name := range setNames(j.Name) {
			if s := cur.sets[name]; s == nil || slices.Contains(s.decl, "flags interval") {
				return nil, false, nil
			}
		}
		if slices.ContainsFunc(j.Added, func(p netip.Prefix) bool { return !normalize(p).IsSingleIP() }) {
			return nil, false, nil // the set may have to become an interval set
		}
		for _, name := range setNames(j.Name) {
			if s := cur.sets[name]; !roomFor(declSize(s.decl), len(s.elems)+len(j.Added)) {
				return nil, false, nil // the set is rebuilt bigger
			}
		}
	}
	plan = &Plan{Families: []FamilyPlan{{Family: NFT}}}
	fp := &plan.Families[0]
	var adds []string
	for _, j := range jails {
		gone := make(map[prefixKey]bool, len(j.Lifted))
		for _, p := range j.Lifted {
			gone[keyOfPrefix(normalize(p))] = true
		}
		for fam, name := range setNames(j.Name) {
			s := cur.sets[name]
			if s == nil {
				continue
			}
			dels, add := newElemOp("delete", name), newElemOp("add", name)
			s.elems = slices.DeleteFunc(s.elems, func(e string) bool {
				p, ok := parseElem(e)
				if !ok || !gone[keyOfPrefix(p)] {
					return false
				}
				dels.add(deleteKey(e))
				return true
			})
			for _, p := range j.Added {
				if p = normalize(p); p.Addr().Is4() == (fam == 0) && !gone[keyOfPrefix(p)] {
					e := elemText(p)
					s.elems = append(s.elems, e)
					add.add(e)
				}
			}
			fp.Ops = dels.appendTo(fp.Ops)
			adds = add.appendTo(adds)
		}
	}
	fp.Ops = append(fp.Ops, adds...)
	if dryRun {
		return plan, true, nil
	}
	if len(fp.Ops) == 0 {
		f.writeCache(gen, cur.listing(), input)
		return plan, true, nil
	}
	if err := applyNFT(ctx, fp.Ops, cur, jails); err != nil {
		fp.Failed = err.Error()
		return plan, true, fmt.Errorf("apply %s to nftables: %w", Changes(fp.Count()), err)
	}
	if g, err := nftGen(); err == nil && g == gen+1 {
		f.writeCache(g, cur.listing(), input)
	}
	return plan, true, nil
}

// writeFile writes head and then body to a new file at path, mode 0600,
// without joining them.
func writeFile(path, head string, body []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(head)
	if err == nil {
		_, err = f.Write(body)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
