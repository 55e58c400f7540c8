// Command packaging writes the Debian package of fail2ban-scan with nfpm used as a library, from
// the files `make deb` has built; see the Makefile. It is a module of its own so that nfpm's
// dependencies stay out of the product's go.mod.
//
//	packaging version                 the Debian version of the checkout (from git describe)
//	packaging version -check V        validates V as a Debian version and prints it
//	packaging deb -version V -arch A -build DIR -out DIR
//
// Paths are relative to the repository root, where the Makefile runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "packaging: %s\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: packaging version [-check V] | deb -version V -arch A -build DIR -out DIR")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "version":
		check := fs.String("check", "", "validate this `VERSION` instead of asking git")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		v, err := checkoutVersion(*check)
		if err != nil {
			return err
		}
		fmt.Println(v)
		return nil
	case "deb":
		var o options
		fs.StringVar(&o.version, "version", "", "Debian `VERSION`")
		fs.StringVar(&o.arch, "arch", "", "Go `GOARCH` of the binary")
		fs.StringVar(&o.build, "build", "", "`DIR` holding the binary, the man page and the completions")
		fs.StringVar(&o.out, "out", "dist", "write the package into `DIR`")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if o.version == "" || o.arch == "" || o.build == "" {
			return fmt.Errorf("deb: -version, -arch and -build are required")
		}
		path, err := writeDeb(o)
		if err != nil {
			return err
		}
		fmt.Println(path)
		return nil
	}
	return fmt.Errorf("unknown command %q (version or deb)", args[0])
}

// checkoutVersion validates v, or when v is empty computes the version of the checkout from git.
func checkoutVersion(v string) (string, error) {
	if v != "" {
		if !validVersion(v) {
			return "", fmt.Errorf("%q is not a Debian version (digits first; letters, digits, . + ~ and at most one - before a revision)", v)
		}
		return v, nil
	}
	describe, err := git("describe", "--tags", "--always", "--long", "--dirty")
	if err != nil {
		return "", err
	}
	ct, err := git("log", "-1", "--format=%ct")
	if err != nil {
		return "", err
	}
	var sec int64
	if _, err := fmt.Sscan(ct, &sec); err != nil {
		return "", fmt.Errorf("git log --format=%%ct: %q: %w", ct, err)
	}
	return debVersion(describe, time.Unix(sec, 0))
}

func git(args ...string) (string, error) {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

var (
	// git describe --tags --always --long --dirty: TAG-N-gHASH, or HASH without a tag, then
	// -dirty. --long keeps a tag from passing for a hash.
	taggedRE = regexp.MustCompile(`^(.+)-([0-9]+)-g([0-9a-f]+)$`)
	hashRE   = regexp.MustCompile(`^[0-9a-f]+$`)
	// deb-version(7) without an epoch: upstream version, optional -revision.
	debVersionRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?$`)
)

func validVersion(v string) bool { return debVersionRE.MatchString(v) }

// debVersion turns the output of git describe --tags --always --long --dirty into a Debian version that sorts the way the commits
// do: a tag v1.2.3 is 1.2.3 (v1.2.3-rc1 is 1.2.3~rc1, before 1.2.3); commits after it are
// 1.2.3+git20260815.abc1234, after 1.2.3; without a tag, 0.0.0~git20260815.abc1234. A dirty
// tree adds .dirty (+dirty on a tag). date is the commit's time, taken in UTC.
func debVersion(describe string, date time.Time) (string, error) {
	d, dirty := strings.CutSuffix(describe, "-dirty")
	stamp := "git" + date.UTC().Format("20060102")
	var v string
	if m := taggedRE.FindStringSubmatch(d); m != nil {
		v = tagVersion(m[1])
		if m[2] != "0" { // commits after the tag
			v += "+" + stamp + "." + m[3]
		}
	} else if hashRE.MatchString(d) {
		v = "0.0.0~" + stamp + "." + d
	} else {
		return "", fmt.Errorf("git describe: unexpected %q", describe)
	}
	if dirty {
		if strings.ContainsAny(v, "+~") {
			v += ".dirty"
		} else {
			v += "+dirty"
		}
	}
	if !validVersion(v) {
		return "", fmt.Errorf("git describe %q gives %q, not a Debian version: set VERSION", describe, v)
	}
	return v, nil
}

// tagVersion is a tag as a Debian upstream version: without its v, pre-releases after ~.
func tagVersion(tag string) string {
	t := strings.TrimPrefix(tag, "v")
	return strings.ReplaceAll(t, "-", "~")
}

type options struct {
	version, arch, build, out string
}

// description is the package's Description: a synopsis, then the long text.
const description = `ban IPs that keep failing postfix SASL authentication (iptables)
fail2ban-scan is a single-shot scanner for mail servers: a systemd timer runs it every
minute; each run reads the postfix log lines new since the last run (rotated and gzipped
files included, or the journal), counts authentication failures per IP, bans and unbans
them in iptables chains f2b-JAIL, and saves a JSON state.

The timer is not enabled on installation: check /etc/fail2ban-scan/config.yaml
with "fail2ban-scan check" and "fail2ban-scan scan --dry-run", then run
"systemctl enable --now fail2ban-scan.timer".`

// writeDeb writes dist/fail2ban-scan_VERSION_ARCH.deb and returns its path. File times are
// SOURCE_DATE_EPOCH when set (the Makefile sets the commit's time), so a commit always gives
// the same bytes.
func writeDeb(o options) (string, error) {
	if !validVersion(o.version) {
		return "", fmt.Errorf("-version %q is not a Debian version", o.version)
	}
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode}}
	}
	conf := func(src, dst string) *files.Content {
		c := file(src, dst, 0o644)
		c.Type = files.TypeConfigNoReplace
		return c
	}
	dir := func(dst string, mode os.FileMode) *files.Content {
		return &files.Content{Destination: dst, Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: mode}}
	}
	b := func(name string) string { return filepath.Join(o.build, name) }
	info := &nfpm.Info{
		Name:          "fail2ban-scan",
		Arch:          o.arch, // nfpm maps GOARCH to Debian's names (arm → armhf, ...)
		Platform:      "linux",
		Version:       o.version,
		VersionSchema: "none", // already a Debian version; semver parsing would rewrite it
		Section:       "net",
		Priority:      "optional",
		Maintainer:    "fail2ban-scan maintainers <root@localhost>",
		Description:   description,
		Overridables: nfpm.Overridables{
			Depends:    []string{"iptables"},
			Recommends: []string{"systemd"},
			Suggests:   []string{"logrotate"},
			Contents: files.Contents{
				file(b("fail2ban-scan"), "/usr/sbin/fail2ban-scan", 0o755),
				file("fail2ban-scan.service", "/lib/systemd/system/fail2ban-scan.service", 0o644),
				file("fail2ban-scan.timer", "/lib/systemd/system/fail2ban-scan.timer", 0o644),
				file("fail2ban-scan-report.service", "/lib/systemd/system/fail2ban-scan-report.service", 0o644),
				file("fail2ban-scan-report.timer", "/lib/systemd/system/fail2ban-scan-report.timer", 0o644),
				file(b("fail2ban-scan.8.gz"), "/usr/share/man/man8/fail2ban-scan.8.gz", 0o644),
				file(b("completion.bash"), "/usr/share/bash-completion/completions/fail2ban-scan", 0o644),
				file(b("completion.zsh"), "/usr/share/zsh/vendor-completions/_fail2ban-scan", 0o644),
				file("packaging/config.yaml", "/usr/share/doc/fail2ban-scan/examples/config.yaml", 0o644),
				conf("packaging/config.yaml", "/etc/fail2ban-scan/config.yaml"),
				conf("packaging/logrotate", "/etc/logrotate.d/fail2ban-scan"),
				file("packaging/tmpfiles.conf", "/usr/lib/tmpfiles.d/fail2ban-scan.conf", 0o644),
				dir("/var/lib/fail2ban-scan", 0o700), // the state; StateDirectoryMode=0700 in the unit
				dir("/var/log/fail2ban-scan", 0o755), // LogsDirectory= in the unit, its default mode
			},
			Scripts: nfpm.Scripts{
				PostInstall: "packaging/scripts/postinst",
				PreRemove:   "packaging/scripts/prerm",
				PostRemove:  "packaging/scripts/postrm",
			},
		},
	}
	info = nfpm.WithDefaults(info)
	path := filepath.Join(o.out, deb.Default.ConventionalFileName(info))
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(path + ".tmp")
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("package %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(path+".tmp", path)
}
