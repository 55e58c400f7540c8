package fw

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// ipsetRestore runs ipset -exist restore on lines, as the backend did before it wrote them
// itself.
func ipsetRestore(t *testing.T, lines []string) {
	t.Helper()
	cmd := exec.Command("ipset", "-exist", "restore")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipset restore: %v: %s", err, out)
	}
}

// TestIPSetLinkAsIPSet: the netlink writer makes of planSets' lines (creates of both types and
// families, adds of addresses and prefixes in messages of many entries, dels, a swap, a
// destroy) the sets ipset -exist restore makes of them: the same save, header and revision.
// Lines already applied apply again without an error, as with -exist.
func TestIPSetLinkAsIPSet(t *testing.T) {
	isolateIPSet(t)
	lines := []string{
		"create f2b-a hash:ip family inet hashsize 1024 maxelem 65536",
		"create f2b-a-v6 hash:net family inet6 hashsize 1024 maxelem 65536",
		"add f2b-a-v6 2001:db8::/64",
		"add f2b-a-v6 2001:db8:1::7",
		"add f2b-a-v6 2001:db8:2::/127",
		"create f2b+a hash:ip family inet hashsize 4096 maxelem 131072",
		"add f2b+a 198.51.100.1",
		"create f2b-n hash:net family inet hashsize 1024 maxelem 65536",
		"add f2b-n 203.0.113.0/24",
		"add f2b-n 192.0.2.9",
		"del f2b-n 203.0.113.0/24",
		"add f2b-n 198.51.100.0/25",
	}
	for i := range 5000 { // several messages of entries: 16 bytes each, 32 KB a message
		lines = append(lines, fmt.Sprintf("add f2b+a 10.%d.%d.%d", i>>16, i>>8&255, i&255))
	}
	lines = append(lines, "del f2b+a 10.0.0.7")
	for range 2 { // the second time, every line is already applied: no error, as with -exist
		if err := applyIPSet(lines); err != nil {
			t.Fatal(err)
		}
	}
	swap := []string{"swap f2b+a f2b-a", "destroy f2b+a"}
	if err := applyIPSet(swap); err != nil {
		t.Fatal(err)
	}
	byNetlink := savedSets(t)
	revisions := ipsetCmd(t, "list", "-t")
	ipsetCmd(t, "destroy")
	ipsetRestore(t, append(lines, swap...))
	if byRestore := savedSets(t); byNetlink != byRestore {
		t.Errorf("the writer's sets:\n%.2000s\nipset restore's:\n%.2000s", byNetlink, byRestore)
	}
	if byRestore := ipsetCmd(t, "list", "-t"); stripVarying(revisions) != stripVarying(byRestore) {
		t.Errorf("the writer's headers:\n%s\nipset restore's:\n%s", revisions, byRestore)
	}
	got := strings.Split(byNetlink, "\n")
	for line, want := range map[string]bool{
		"add f2b-a 198.51.100.1": true, "add f2b-a 10.0.0.6": true, "add f2b-a 10.0.19.135": true, "add f2b-a 10.0.0.7": false,
		"add f2b-a-v6 2001:db8:2::/127": true, "add f2b-n 192.0.2.9": true, "add f2b-n 203.0.113.0/24": false,
		"create f2b-a hash:ip family inet hashsize 4096 maxelem 131072": true, "create f2b-a-v6 hash:net family inet6 hashsize 1024 maxelem 65536": true,
	} {
		if slices.Contains(got, line) != want {
			t.Errorf("the writer's sets: %q there: %v, want %v", line, !want, want)
		}
	}
	if n := strings.Count(byNetlink, "add f2b-a 10."); n != 4999 {
		t.Errorf("the writer's f2b-a has %d of the 4,999 addresses", n)
	}
}

// stripVarying drops what differs between two sets made alike from ipset list -t: initval,
// memory size, references.
func stripVarying(list string) string {
	var keep []string
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "Size in memory") || strings.HasPrefix(l, "References") {
			continue
		}
		if i := strings.Index(l, " initval "); i >= 0 {
			l = l[:i]
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// TestIPSetLinkErrors: as with ipset restore, the first line the kernel refuses stops the
// rest, and the error names it (or the message of entries it is in) with the kernel's reason
// in ipset's words; a line the writer does not know stops it there.
func TestIPSetLinkErrors(t *testing.T) {
	isolateIPSet(t)
	err := applyIPSet([]string{
		"create f2b-a hash:ip family inet hashsize 1024 maxelem 65536",
		"add f2b-a 192.0.2.1",
		"add f2b-nosuch 192.0.2.2",
		"add f2b-a 192.0.2.3",
	})
	if err == nil || !strings.Contains(err.Error(), `"add f2b-nosuch 192.0.2.2"`) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("an add to a set that does not exist: %v", err)
	}
	if got := savedSets(t); got != "create f2b-a hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-a 192.0.2.1" {
		t.Errorf("after the error:\n%s", got)
	}
	// A set full: the kernel refuses the third entry of one message.
	err = applyIPSet([]string{"create f2b-s hash:ip family inet hashsize 1024 maxelem 2", "add f2b-s 192.0.2.1", "add f2b-s 192.0.2.2", "add f2b-s 192.0.2.3"})
	if err == nil || !strings.Contains(err.Error(), `"add f2b-s 192.0.2.1" or one of the 2 lines after it: hash is full`) {
		t.Errorf("a full set: %v", err)
	}
	err = applyIPSet([]string{"create f2b-b hash:ip family inet6 hashsize 1024 maxelem 65536", "swap f2b-a f2b-b"})
	if err == nil || !strings.Contains(err.Error(), `"swap f2b-a f2b-b": the sets cannot be swapped`) {
		t.Errorf("a swap of two families: %v", err)
	}
	for _, line := range []string{
		"create f2b-c hash:ip,port family inet hashsize 1024 maxelem 65536",
		"create f2b-c hash:ip family inet hashsize 1024 maxelem 65536 timeout 60",
		"add f2b-a 192.0.2.9 timeout 60",
		"flush f2b-a",
		"add f2b-a not-an-address",
	} {
		err := applyIPSet([]string{"add f2b-a 192.0.2.8", line, "add f2b-a 192.0.2.10"})
		if err == nil || !strings.Contains(err.Error(), line) {
			t.Errorf("%q: %v", line, err)
		}
	}
	if got := savedSets(t); strings.Contains(got, "f2b-c") || strings.Contains(got, "192.0.2.9") || !strings.Contains(got, "192.0.2.8") ||
		strings.Contains(got, "192.0.2.10") {
		t.Errorf("after the lines the writer does not know:\n%s", got)
	}
}
