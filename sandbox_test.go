package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/fail2bantest"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// The sandbox of fail2ban-scan.service, emulated where systemd is not PID 1 (this machine and
// CI): the test binary re-executes itself with sandboxEnv set (see TestMain), sets up the
// namespaces and mounts the unit asks for on its own thread, and execs setpriv, which drops
// the capabilities and sets no_new_privs, which execs the real binary. Every property of the
// unit's [Service] section is either emulated, or listed in sandboxNotEmulated with the reason,
// or in sandboxIrrelevant; a new property fails the test until it is placed in one of them.

// sandboxEnv holds the JSON of a sandboxSpec in the re-executed test binary.
const sandboxEnv = "FAIL2BAN_SCAN_SANDBOX"

// sandboxNotEmulated are the unit's properties this emulation does not apply, and why.
var sandboxNotEmulated = map[string]string{
	"SystemCallFilter":        "seccomp filter; no seccomp compiler here",
	"SystemCallArchitectures": "seccomp filter",
	"SystemCallErrorNumber":   "seccomp filter",
	"RestrictAddressFamilies": "seccomp filter on socket(2)",
	"RestrictNamespaces":      "seccomp filter",
	"LockPersonality":         "seccomp filter",
	"MemoryDenyWriteExecute":  "seccomp filter",
	"RestrictRealtime":        "seccomp filter",
	"RestrictSUIDSGID":        "seccomp filter",
	"IPAddressDeny":           "cgroup BPF program (the run sends no packets)",
	"DevicePolicy":            "device cgroup (the private /dev holds only the basic nodes anyway)",
	"RemoveIPC":               "cleanup after the run, for a non-root user only",
	"KeyringMode":             "session keyring; nothing uses it",
	"StateDirectoryMode":      "systemd creates the directory; the test does, with this mode",
	"TimeoutStartSec":         "systemd's timeout",
	"PrivateMounts":           "implied: the emulation always runs in a private mount namespace",
	"ProtectClock":            "partly: CAP_SYS_TIME and CAP_WAKE_ALARM are outside the bounding set; the seccomp part is not applied",
	"ProtectKernelLogs":       "partly: /proc/kmsg is hidden (ProcSubset=pid), the private /dev has no kmsg, CAP_SYSLOG is outside the bounding set",
	"ProtectKernelModules":    "partly: CAP_SYS_MODULE is outside the bounding set, /usr/lib/modules is hidden; the seccomp part is not applied",
	"ProtectHostname":         "partly: a new UTS namespace; the seccomp part is not applied",
	"SupplementaryGroups":     "applied with setpriv --groups",
	"ReadWritePaths":          "applied, to the test's paths the unit's paths map to",
	"StateDirectory":          "applied: writable, mapped like ReadWritePaths",
	"LogsDirectory":           "applied: writable, mapped like ReadWritePaths",
	"ProtectSystem":           "applied (strict only)",
	"CapabilityBoundingSet":   "applied with setpriv --bounding-set",
	"NoNewPrivileges":         "applied with setpriv --no-new-privs",
	"ProtectHome":             "applied",
	"PrivateTmp":              "applied",
	"PrivateDevices":          "applied (a tmpfs /dev with null, zero, full, random, urandom, tty)",
	"PrivateIPC":              "applied (a new IPC namespace)",
	"ProtectKernelTunables":   "applied (/sys read-only; /proc/sys hidden by ProcSubset=pid or read-only)",
	"ProtectControlGroups":    "applied (/sys/fs/cgroup read-only)",
	"ProtectProc":             "applied (proc mounted with hidepid=)",
	"ProcSubset":              "applied (proc mounted with subset=pid)",
	"UMask":                   "applied",
	"Type":                    "",
	"ExecStart":               "the test runs the built binary with its own --config",
}

// sandboxSpec is what the re-executed test binary sets up before it execs the command.
type sandboxSpec struct {
	ReadOnly        bool     // ProtectSystem=strict
	Writable        []string // ReadWritePaths, StateDirectory, LogsDirectory (mapped)
	Expose          []string // the test's own directories, read-only, kept visible through PrivateTmp
	PrivateTmp      bool
	PrivateDevices  bool
	ProtectHome     bool
	ProtectTunables bool
	ProtectCgroups  bool
	ProtectModules  bool
	ProcOptions     string // hidepid=...,subset=pid; "" keeps /proc
	NewUTS, NewIPC  bool
	Umask           int // -1: unchanged
}

// sandboxCommand turns the unit's [Service] properties into a spec and the setpriv options.
// paths maps the unit's paths (/var/lib/fail2ban-scan) to the test's; expose are directories
// of the test that the command must see (read-only).
func sandboxCommand(t *testing.T, props map[string][]string, paths map[string]string, expose []string) (sandboxSpec, []string) {
	t.Helper()
	s := sandboxSpec{Expose: expose, Umask: -1}
	setpriv := []string{"--inh-caps=-all"}
	last := func(k string) string { v := props[k]; return v[len(v)-1] }
	yes := func(k string) bool { return len(props[k]) > 0 && last(k) == "true" }
	for k := range props {
		if _, ok := sandboxNotEmulated[k]; !ok {
			t.Errorf("%s= is in the unit but neither emulated nor listed in sandboxNotEmulated", k)
		}
	}
	mapPath := func(p string) (string, bool) {
		optional := strings.HasPrefix(p, "-")
		p = strings.TrimPrefix(p, "-")
		if m, ok := paths[p]; ok {
			return m, true
		}
		if !optional {
			t.Fatalf("the unit's path %s maps to no path of the test", p)
		}
		return "", false
	}
	if v := props["ProtectSystem"]; len(v) > 0 {
		if last("ProtectSystem") != "strict" {
			t.Fatalf("ProtectSystem=%s: only strict is emulated", last("ProtectSystem"))
		}
		s.ReadOnly = true
	}
	for _, k := range []string{"ReadWritePaths", "StateDirectory", "LogsDirectory"} {
		for _, v := range props[k] {
			for _, p := range strings.Fields(v) {
				switch k {
				case "StateDirectory":
					p = "/var/lib/" + p
				case "LogsDirectory":
					p = "/var/log/" + p
				}
				if m, ok := mapPath(p); ok && !slices.Contains(s.Writable, m) {
					s.Writable = append(s.Writable, m)
				}
			}
		}
	}
	s.PrivateTmp = yes("PrivateTmp")
	s.PrivateDevices = yes("PrivateDevices")
	s.ProtectHome = yes("ProtectHome")
	s.ProtectTunables = yes("ProtectKernelTunables")
	s.ProtectCgroups = yes("ProtectControlGroups")
	s.ProtectModules = yes("ProtectKernelModules")
	s.NewUTS = yes("ProtectHostname")
	s.NewIPC = yes("PrivateIPC")
	var procOpts []string
	if v := props["ProtectProc"]; len(v) > 0 && last("ProtectProc") != "default" {
		procOpts = append(procOpts, "hidepid="+last("ProtectProc"))
	}
	if v := props["ProcSubset"]; len(v) > 0 && last("ProcSubset") == "pid" {
		procOpts = append(procOpts, "subset=pid")
	}
	s.ProcOptions = strings.Join(procOpts, ",")
	if v := props["UMask"]; len(v) > 0 {
		if _, err := fmt.Sscanf(last("UMask"), "%o", &s.Umask); err != nil {
			t.Fatalf("UMask=%s: %v", last("UMask"), err)
		}
	}
	if yes("NoNewPrivileges") {
		setpriv = append(setpriv, "--no-new-privs")
	}
	if v := props["CapabilityBoundingSet"]; len(v) > 0 {
		bset := "-all"
		for _, c := range strings.Fields(last("CapabilityBoundingSet")) {
			if strings.HasPrefix(c, "~") {
				t.Fatalf("CapabilityBoundingSet=%s: only an allow list is emulated", last("CapabilityBoundingSet"))
			}
			bset += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
		}
		setpriv = append(setpriv, "--bounding-set="+bset)
	}
	if v := props["SupplementaryGroups"]; len(v) > 0 {
		var groups []string
		for _, g := range v {
			groups = append(groups, strings.Fields(g)...)
		}
		setpriv = append(setpriv, "--groups="+strings.Join(groups, ","))
	}
	return s, setpriv
}

// runSandboxed runs argv under spec and setpriv's options, from the calling goroutine's thread
// (so in the network namespace netnstest.Isolate gave it). env is added to the environment.
func runSandboxed(t *testing.T, spec sandboxSpec, setpriv []string, env []string, argv ...string) (int, string, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sp, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is missing")
	}
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, append(append(append([]string{sp}, setpriv...), "--"), argv...)...)
	cmd.Env = append(append(os.Environ(), sandboxEnv+"="+string(js)), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code == sandboxSetupFailed {
		t.Fatalf("setting up the sandbox failed:\n%s", errb.String())
	}
	return code, out.String(), errb.String()
}

// oPath is O_PATH, which package syscall lacks (010000000 on x86, arm and most others).
const oPath = 0o10000000

// sandboxSetupFailed is the exit status of a sandbox that could not be set up.
const sandboxSetupFailed = 125

// sandboxMain is the re-executed test binary: it sets up spec on this thread and execs argv.
// It never returns on success.
func sandboxMain(specJSON string, argv []string) int {
	var s sandboxSpec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %s: %v\n", sandboxEnv, err)
		return sandboxSetupFailed
	}
	runtime.LockOSThread() // the namespaces are this thread's; exec keeps only it
	if err := s.enter(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		return sandboxSetupFailed
	}
	os.Unsetenv(sandboxEnv)
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintf(os.Stderr, "sandbox: exec %s: %v\n", argv[0], err)
	return sandboxSetupFailed
}

// enter moves this thread into new mount (and UTS, IPC) namespaces and sets them up. It
// refuses to mount anything unless the mount namespace is a new one, so the host's mounts are
// never changed: every remount below is a bind remount, which changes one mount of this
// namespace only, never the file system.
func (s sandboxSpec) enter() error {
	before, err := os.Readlink("/proc/thread-self/ns/mnt")
	if err != nil {
		return err
	}
	flags := syscall.CLONE_NEWNS
	if s.NewUTS {
		flags |= syscall.CLONE_NEWUTS
	}
	if s.NewIPC {
		flags |= syscall.CLONE_NEWIPC
	}
	if err := syscall.Unshare(flags); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if after, err := os.Readlink("/proc/thread-self/ns/mnt"); err != nil || after == before {
		return fmt.Errorf("unshare left the thread in mount namespace %s (%v)", after, err)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	// Handles on the test's directories, which PrivateTmp and ProtectHome hide.
	var exposed []*os.File
	for _, p := range s.Expose {
		f, err := os.OpenFile(p, oPath|syscall.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		exposed = append(exposed, f)
	}
	mounts, err := mountPoints()
	if err != nil {
		return err
	}
	ro := func(p string) error {
		err := syscall.Mount("", p, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, "")
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
			return nil // shadowed by a mount above it: not reachable anyway
		}
		if err != nil {
			return fmt.Errorf("remount %s read-only: %w", p, err)
		}
		return nil
	}
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	for _, m := range mounts {
		var make bool
		switch {
		case under(m, "/proc"), under(m, "/dev"):
		case under(m, "/sys/fs/cgroup"):
			make = s.ProtectCgroups
		case under(m, "/sys"):
			make = s.ProtectTunables
		default:
			make = s.ReadOnly
		}
		if make {
			if err := ro(m); err != nil {
				return err
			}
		}
	}
	if s.ProcOptions != "" {
		if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, s.ProcOptions); err != nil {
			return fmt.Errorf("mount proc -o %s: %w", s.ProcOptions, err)
		}
	}
	if s.ProtectTunables {
		for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger"} {
			if _, err := os.Stat(p); err != nil {
				continue // hidden by subset=pid
			}
			if err := syscall.Mount(p, p, "", syscall.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %w", p, err)
			}
			if err := ro(p); err != nil {
				return err
			}
		}
	}
	inaccessible := func(p string) error {
		if _, err := os.Stat(p); err != nil {
			return nil
		}
		if err := syscall.Mount("tmpfs", p, "tmpfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=000"); err != nil {
			return fmt.Errorf("hide %s: %w", p, err)
		}
		return nil
	}
	if s.ProtectHome {
		for _, p := range []string{"/home", "/root", "/run/user"} {
			if err := inaccessible(p); err != nil {
				return err
			}
		}
	}
	if s.ProtectModules {
		for _, p := range []string{"/usr/lib/modules", "/lib/modules"} {
			if err := inaccessible(p); err != nil {
				return err
			}
		}
	}
	if s.PrivateTmp {
		for _, p := range []string{"/tmp", "/var/tmp"} {
			if err := syscall.Mount("tmpfs", p, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
				return fmt.Errorf("private %s: %w", p, err)
			}
		}
	}
	for i, f := range exposed {
		p := s.Expose[i]
		if err := os.MkdirAll(p, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("show the test's %s: %w", p, err)
		}
		if err := syscall.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), p, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("show the test's %s: %w", p, err)
		}
		if err := ro(p); err != nil {
			return err
		}
		f.Close()
	}
	for _, p := range s.Writable {
		if err := syscall.Mount(p, p, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := syscall.Mount("", p, "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("remount %s writable: %w", p, err)
		}
	}
	if s.PrivateDevices {
		if err := privateDev(); err != nil {
			return err
		}
	}
	if s.Umask >= 0 {
		syscall.Umask(s.Umask) // this thread's: CLONE_NEWNS unshared the fs attributes
	}
	return nil
}

// privateDev mounts a fresh /dev with the nodes PrivateDevices= gives.
func privateDev() error {
	if err := syscall.Mount("tmpfs", "/dev", "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("private /dev: %w", err)
	}
	for name, dev := range map[string][2]int{"null": {1, 3}, "zero": {1, 5}, "full": {1, 7}, "random": {1, 8}, "urandom": {1, 9}, "tty": {5, 0}} {
		if err := syscall.Mknod("/dev/"+name, syscall.S_IFCHR|0o666, dev[0]<<8|dev[1]); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", name, err)
		}
		if err := os.Chmod("/dev/"+name, 0o666); err != nil { // past the umask
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, "/dev/"+name); err != nil {
			return err
		}
	}
	return nil
}

// mountPoints lists this mount namespace's mount points, parents first (mountinfo order).
func mountPoints() ([]string, error) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			return nil, fmt.Errorf("mountinfo: odd line %q", l)
		}
		// Octal escapes: "\040" is a blank.
		p := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(f[4])
		out = append(out, p)
	}
	return out, nil
}

// TestSandboxedUnit: the real binary, under fail2ban-scan.service's sandbox (emulated, see
// sandboxNotEmulated), scans, asks a real fail2ban over its socket, bans with iptables-nft and
// with iptables-legacy inside a private network namespace, and saves its state and log; and
// the sandbox is real: the capabilities are the two the unit keeps, no_new_privs is set, and a
// state outside the writable directories cannot be written.
func TestSandboxedUnit(t *testing.T) {
	netnstest.Require(t)
	props := unitService(t, "fail2ban-scan.service")
	bin := buildBinary(t)
	srv := fail2bantest.Start(t, "dovecot")

	setup := func(t *testing.T) (dir, cfgPath string, spec sandboxSpec, setpriv []string) {
		dir = t.TempDir()
		for _, d := range []string{"state", "log"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		fail := "Aug 15 22:34:%02d mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n"
		var log string
		for i := range 3 {
			log += fmt.Sprintf(fail, i)
		}
		write(t, filepath.Join(dir, "mail.log"), log)
		cfgPath = filepath.Join(dir, "config.yaml")
		write(t, cfgPath, "state: "+filepath.Join(dir, "state", "state.json")+
			"\nlogfile: "+filepath.Join(dir, "log", "fail2ban-scan.log")+
			"\nfail2ban_socket: "+srv.Socket+
			"\njails:\n  postfix-sasl:\n    maxretry: 3\n    logpath: ["+filepath.Join(dir, "mail.log")+"]"+
			"\n  dovecot:\n    filter: postfix-sasl\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n")
		spec, setpriv = sandboxCommand(t, props, map[string]string{
			"/var/lib/fail2ban-scan": filepath.Join(dir, "state"),
			"/var/log/fail2ban-scan": filepath.Join(dir, "log"),
		}, []string{filepath.Dir(bin), dir, filepath.Dir(srv.Socket)})
		return dir, cfgPath, spec, setpriv
	}

	t.Run("the sandbox", func(t *testing.T) {
		netnstest.Isolate(t)
		dir, _, spec, setpriv := setup(t)
		code, out, stderr := runSandboxed(t, spec, setpriv, nil, "/bin/sh", "-c",
			`grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status; ls /dev | tr '\n' ' '; echo; `+
				`touch "$1/x" 2>&1; touch "$1/state/x" && echo state writable; ls /home /root 2>&1 | head -1; touch /tmp/x && echo tmp writable`, "sh", dir)
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, stderr)
		}
		for _, want := range []string{
			"CapEff:\t0000000000003000", // CAP_NET_ADMIN (12), CAP_NET_RAW (13)
			"CapBnd:\t0000000000003000",
			"NoNewPrivs:\t1",
			"fd full null random stderr stdin stdout tty urandom zero \n",
			dir + "/x': Read-only file system",
			"state writable",
			"Permission denied",
			"tmp writable",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("inside the sandbox, no %q in:\n%s", want, out)
			}
		}
	})

	for _, tt := range []struct{ name, iptables string }{
		{"iptables-nft", "nft"},
		{"iptables-legacy", "legacy"},
	} {
		t.Run("scan with "+tt.name, func(t *testing.T) {
			netnstest.Isolate(t)
			dir, cfgPath, spec, setpriv := setup(t)
			var env []string
			save := "iptables-save"
			if tt.iptables == "legacy" {
				multi, err := exec.LookPath("xtables-legacy-multi")
				if err != nil {
					t.Skipf("iptables-legacy not installed: %v", err)
				}
				// The package's tmpfiles.d makes /run/xtables.lock at boot, which the
				// sandbox sees read-only; any iptables-legacy run makes it as well.
				if out, err := exec.Command(multi+"", "iptables", "-w", "-L", "-n").CombinedOutput(); err != nil {
					t.Fatalf("iptables-legacy -L: %v\n%s", err, out)
				}
				bins := filepath.Join(dir, "legacy")
				os.Mkdir(bins, 0o755)
				for _, n := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"} {
					if err := os.Symlink(multi, filepath.Join(bins, n)); err != nil {
						t.Fatal(err)
					}
				}
				env = []string{"PATH=" + bins + ":" + os.Getenv("PATH")}
				save = filepath.Join(bins, "iptables-save")
			}
			code, out, stderr := runSandboxed(t, spec, setpriv, env, bin, "--config", cfgPath, "--now", "2025-08-15T22:40:00Z", "scan")
			// dovecot is also a jail of the running fail2ban: the answer came through the
			// socket, and that jail is left alone (exit 1).
			if code != 1 || !strings.Contains(stderr, "jail dovecot: the fail2ban running at "+srv.Socket+" has a jail of that name") {
				t.Fatalf("exit %d (want 1, for the dovecot clash):\n%s%s", code, out, stderr)
			}
			for _, l := range strings.Split(stderr, "\n") {
				if strings.Contains(l, "ERROR") && !strings.Contains(l, "jail dovecot:") && !strings.Contains(l, "some jails or the firewall failed") {
					t.Errorf("unexpected error: %s", l)
				}
			}
			cmd := exec.Command(save, "-t", "filter")
			saved, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, saved)
			}
			if !strings.Contains(string(saved), "-A f2b-postfix-sasl -s 192.0.2.7/32 -j REJECT") {
				t.Errorf("192.0.2.7 not banned in %s:\n%s", tt.name, saved)
			}
			for _, f := range []string{"state/state.json", "log/fail2ban-scan.log"} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Errorf("not written in the sandbox: %v", err)
				} else if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %o, want 0600 (UMask=0077)", f, fi.Mode().Perm())
				}
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "log", "fail2ban-scan.log")); !strings.Contains(string(data), "Ban 192.0.2.7") {
				t.Errorf("the logfile has no ban:\n%s", data)
			}
		})
	}

	// The set backends write the kernel themselves, over netlink (a send buffer forced to
	// the batch's size needs CAP_NET_ADMIN, which the bounding set keeps).
	for _, tt := range []struct{ action, tool, env string }{
		{"nftables", "nft", "FAIL2BAN_SCAN_REQUIRE_NFT"},
		{"ipset", "ipset", "FAIL2BAN_SCAN_REQUIRE_IPSET"},
	} {
		t.Run("scan with banaction "+tt.action, func(t *testing.T) {
			requireCommand(t, tt.tool, tt.env)
			netnstest.Isolate(t)
			_, cfgPath, spec, setpriv := setup(t)
			cfg, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			write(t, cfgPath, strings.Replace(string(cfg), "maxretry: 3\n", "maxretry: 3\n    banaction: "+tt.action+"\n", 1))
			code, out, stderr := runSandboxed(t, spec, setpriv, nil, bin, "--config", cfgPath, "--now", "2025-08-15T22:40:00Z", "scan")
			if code != 1 || !strings.Contains(stderr, "jail dovecot: the fail2ban running at") { // as above
				t.Fatalf("exit %d (want 1, for the dovecot clash):\n%s%s", code, out, stderr)
			}
			for _, l := range strings.Split(stderr, "\n") {
				if strings.Contains(l, "ERROR") && !strings.Contains(l, "jail dovecot:") {
					t.Errorf("unexpected error: %s", l)
				}
			}
			list := exec.Command("ipset", "list", "f2b-postfix-sasl")
			if tt.action == "nftables" {
				list = exec.Command("nft", "list", "set", "inet", "fail2ban-scan", "f2b-postfix-sasl-v4")
			}
			if got, err := list.CombinedOutput(); err != nil || !strings.Contains(string(got), "192.0.2.7") {
				t.Errorf("192.0.2.7 not in the set (%v):\n%s", err, got)
			}
		})
	}

	t.Run("state outside the writable directories", func(t *testing.T) {
		netnstest.Isolate(t)
		dir, cfgPath, spec, setpriv := setup(t)
		code, out, stderr := runSandboxed(t, spec, setpriv, nil, bin, "--config", cfgPath, "--state", filepath.Join(dir, "state.json"), "--now", "2025-08-15T22:40:00Z", "scan")
		if code == 0 || !strings.Contains(stderr, filepath.Join(dir, "state.json")) || !strings.Contains(stderr, "read-only file system") {
			t.Errorf("exit %d (want a failure naming the read-only file system):\n%s%s", code, out, stderr)
		}
	})
}
