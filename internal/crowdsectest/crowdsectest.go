// Package crowdsectest runs a real CrowdSec Local API on loopback for tests: Debian's crowdsec package, unpacked (never installed), started with "crowdsec -no-cs" on a config of its own.
//
// The binaries are found in $FAIL2BAN_SCAN_CROWDSEC_DIR (the root of an unpacked package:
// usr/bin/crowdsec, usr/bin/cscli), else in a cache directory, where Start unpacks the .deb of
// "apt-get download crowdsec" (or one in /var/cache/apt/archives) with dpkg-deb -x when they
// are missing. The package's install script registers with CrowdSec's online API, which a
// test machine cannot reach: that is why it is unpacked, not installed. Where none of this
// works the test is skipped with the reason, or fails under FAIL2BAN_SCAN_REQUIRE_CROWDSEC=1.
//
// Each LAPI has its own directory: config.yaml (SQLite database in the directory, no online
// client, no hub, API on 127.0.0.1 at a free port), profiles.yaml, and cscli's machine in
// local_api_credentials.yaml. Stop and Start restart it on the same port and database.
package crowdsectest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// EnvDir names the root of an unpacked crowdsec package.
	EnvDir = "FAIL2BAN_SCAN_CROWDSEC_DIR"
	// EnvRequire set to 1 (as in CI) turns the skip into a failure.
	EnvRequire = "FAIL2BAN_SCAN_REQUIRE_CROWDSEC"
)

// LAPI is one running (or stopped) Local API.
type LAPI struct {
	Dir             string // its config, database and log
	URL             string // http://127.0.0.1:PORT
	Crowdsec, Cscli string
	t               testing.TB
	cmd             *exec.Cmd
	done            chan error
}

// Find returns the crowdsec and cscli binaries, unpacking the package into a cache
// directory when needed.
func Find() (crowdsec, cscli string, err error) {
	root := os.Getenv(EnvDir)
	if root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		root = filepath.Join(cache, "fail2ban-scan", "crowdsec")
	}
	crowdsec, cscli = filepath.Join(root, "usr/bin/crowdsec"), filepath.Join(root, "usr/bin/cscli")
	if _, err := os.Stat(crowdsec); err == nil {
		return crowdsec, cscli, nil
	}
	if os.Getenv(EnvDir) != "" {
		return "", "", fmt.Errorf("%s=%s has no usr/bin/crowdsec", EnvDir, root)
	}
	if err := unpack(root); err != nil {
		return "", "", err
	}
	return crowdsec, cscli, nil
}

// unpack unpacks Debian's crowdsec package into root, under a lock: go test runs the test
// binaries of several packages at once, and each may get here first.
func unpack(root string) error {
	dpkg, err := exec.LookPath("dpkg-deb")
	if err != nil {
		return errors.New("no crowdsec unpacked and no dpkg-deb to unpack it")
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(root+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/crowdsec")); err == nil {
		return nil // unpacked by another test binary meanwhile
	}
	debs, _ := filepath.Glob("/var/cache/apt/archives/crowdsec_*.deb")
	if len(debs) == 0 {
		dl := filepath.Join(filepath.Dir(root), "download")
		if err := os.MkdirAll(dl, 0o755); err != nil {
			return err
		}
		debs, _ = filepath.Glob(filepath.Join(dl, "crowdsec_*.deb"))
		if len(debs) == 0 {
			cmd := exec.Command("apt-get", "download", "crowdsec")
			cmd.Dir = dl
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("apt-get download crowdsec: %w: %s", err, strings.TrimSpace(string(out)))
			}
			debs, _ = filepath.Glob(filepath.Join(dl, "crowdsec_*.deb"))
		}
	}
	if len(debs) == 0 {
		return errors.New("no crowdsec .deb found to unpack")
	}
	tmp := root + ".tmp"
	os.RemoveAll(tmp)
	if out, err := exec.Command(dpkg, "-x", debs[len(debs)-1], tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w: %s", debs[len(debs)-1], err, out)
	}
	return os.Rename(tmp, root)
}

// Require finds the binaries or skips the test (fails it under EnvRequire=1).
func Require(t testing.TB) (crowdsec, cscli string) {
	t.Helper()
	crowdsec, cscli, err := Find()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("needs CrowdSec's LAPI (%s=1): %v", EnvRequire, err)
		}
		t.Skipf("needs CrowdSec's LAPI: %v (set %s to an unpacked crowdsec package; %s=1 makes this a failure)", err, EnvDir, EnvRequire)
	}
	return crowdsec, cscli
}

// Start starts a LAPI in a new directory and stops it at the end of the test. lo must be
// up in the caller's network namespace.
func Start(t testing.TB) *LAPI {
	t.Helper()
	crowdsec, cscli := Require(t)
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	l := &LAPI{Dir: dir, URL: fmt.Sprintf("http://127.0.0.1:%d", port), Crowdsec: crowdsec, Cscli: cscli, t: t}
	for _, d := range []string{"data", "hub", "notifications", "plugins"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	config := strings.NewReplacer("DIR", dir, "PORT", fmt.Sprint(port)).Replace(configTemplate)
	files := map[string]string{
		"config.yaml":                config,
		"profiles.yaml":              profiles,
		"simulation.yaml":            "simulation: off\n",
		"local_api_credentials.yaml": "url: " + l.URL + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l.Start()
	t.Cleanup(l.Stop)
	// cscli's own machine, for "cscli decisions list" and the like.
	l.Run("machines", "add", "cscli-test", "--auto", "--force", "-f", filepath.Join(dir, "local_api_credentials.yaml"))
	return l
}

const configTemplate = `common:
  daemonize: false
  log_media: file
  log_dir: DIR/
  log_level: info
  working_dir: DIR
config_paths:
  config_dir: DIR/
  data_dir: DIR/data/
  simulation_path: DIR/simulation.yaml
  hub_dir: DIR/hub/
  index_path: DIR/hub/.index.json
  notification_dir: DIR/notifications/
  plugin_dir: DIR/plugins/
cscli:
  output: human
db_config:
  log_level: info
  type: sqlite
  db_path: DIR/data/crowdsec.db
  use_wal: true
  flush:
    max_items: 500000
    max_age: 7d
api:
  client:
    insecure_skip_verify: false
    credentials_path: DIR/local_api_credentials.yaml
  server:
    log_level: info
    listen_uri: 127.0.0.1:PORT
    profiles_path: DIR/profiles.yaml
    trusted_ips: [127.0.0.1]
prometheus:
  enabled: false
`

// profiles is Debian's default profile: alerts that carry decisions keep them as posted.
const profiles = `name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
`

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the LAPI (again, after Stop) and waits until it answers /health.
func (l *LAPI) Start() {
	l.t.Helper()
	if l.cmd != nil {
		l.t.Fatal("crowdsectest: Start of a running LAPI")
	}
	cmd := exec.Command(l.Crowdsec, "-c", filepath.Join(l.Dir, "config.yaml"), "-no-cs")
	log, err := os.OpenFile(filepath.Join(l.Dir, "lapi.out"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		l.t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", l.Crowdsec, err)
	}
	l.cmd, l.done = cmd, make(chan error, 1)
	go func() { l.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(l.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-l.done:
			l.cmd = nil
			l.t.Fatalf("the LAPI exited at start: %v\n%s", err, l.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.Stop()
			l.t.Fatalf("the LAPI did not answer %s/health within 30 s: %v\n%s", l.URL, err, l.Log())
		}
	}
}

// Stop stops the LAPI (nothing when it is stopped).
func (l *LAPI) Stop() {
	if l.cmd == nil {
		return
	}
	l.cmd.Process.Signal(os.Interrupt)
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		l.cmd.Process.Kill()
		<-l.done
	}
	l.cmd = nil
}

// Log returns the LAPI's log, for failure messages.
func (l *LAPI) Log() string {
	var b strings.Builder
	for _, f := range []string{"lapi.out", "crowdsec_api.log", "crowdsec.log"} {
		if data, err := os.ReadFile(filepath.Join(l.Dir, f)); err == nil {
			fmt.Fprintf(&b, "--- %s\n%s", f, data)
		}
	}
	return b.String()
}

// Run runs cscli on this LAPI's config and returns its standard output; a failure fails the test.
func (l *LAPI) Run(args ...string) string {
	l.t.Helper()
	cmd := exec.Command(l.Cscli, append([]string{"-c", filepath.Join(l.Dir, "config.yaml")}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		l.t.Fatalf("cscli %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// AddMachine registers a machine with a password.
func (l *LAPI) AddMachine(name, password string) {
	l.t.Helper()
	l.Run("machines", "add", name, "--password", password, "-f", "/dev/null", "--force")
}

// AddBouncer registers a bouncer and returns its API key.
func (l *LAPI) AddBouncer(name string) string {
	l.t.Helper()
	return strings.TrimSpace(l.Run("bouncers", "add", name, "-o", "raw"))
}
