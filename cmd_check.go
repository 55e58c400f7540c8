package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/scan"
)

// cmdCheck prints every config error, then every warning (what is legal but will fail at run
// time), to stderr, each as "file:line: key: message", errors first, each group in line order.
// Config errors exit 2; warnings do not change the exit status, and are counted on the last
// line, on stdout when the config is valid.
func cmdCheck(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	log, _, err := globals(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	// Not setup: a log file that cannot be opened is a warning here, not a refusal.
	cfg, path, notes, err := loadConfig(c.String("config"), c.IsSet("config"))
	for _, n := range notes {
		log.logf(levelWarning, "config", "", "%s", n)
	}
	var errs rules.ConfigErrors
	if err != nil && !errors.As(err, &errs) {
		return usageErr(err) // unreadable, not YAML: nothing more to check
	}
	var clashes []error
	e := &env{cfg: cfg, cfgPath: path}
	clashes, err = e.askFail2ban(c.Context, cfg.Jails)
	if err != nil {
		clashes = append(clashes, fmt.Errorf("cannot tell whether a running fail2ban uses these jail names (and their chains): %w", err))
	}
	statePath, stateKey := cfg.State, "state"
	if s := c.String("state"); s != "" {
		statePath, stateKey = s, "--state"
	}
	warns := append(slices.Clone(cfg.Warnings), runtimeWarnings(cfg, statePath, stateKey)...)
	slices.SortStableFunc(warns, func(a, b *rules.Warning) int { return cmp.Compare(a.Line, b.Line) })

	w := c.App.ErrWriter
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	for _, e := range clashes {
		fmt.Fprintf(w, "%s: %s\n", path, e)
	}
	for _, x := range warns {
		fmt.Fprintf(w, "WARNING %s\n", x)
	}
	if n := len(errs) + len(clashes); n > 0 {
		return usageErr(fmt.Errorf("%s: %d error(s), %d warning(s)", path, n, len(warns)))
	}
	n := 0
	for _, j := range cfg.Jails {
		if j.Enabled {
			n++
		}
	}
	for _, j := range cfg.Jails {
		if j.Filter != nil && j.Filter.IsFail2ban() {
			fmt.Fprintf(c.App.Writer, "jail %s: filter %s\n", j.Name, j.Filter.Name())
			writeEngines(c.App.Writer, j.Filter)
		}
	}
	fmt.Fprintf(c.App.Writer, "%s: OK, %d jail(s), %d enabled, %d warning(s)\n", path, len(cfg.Jails), n, len(warns))
	return nil
}

// runtimeWarnings looks at the file system as a scan would: the logs and journal directories
// of the enabled jails, and whether the state and the log file can be written. A value set in
// `defaults:` and shared by several jails is reported once.
func runtimeWarnings(cfg *rules.Config, statePath, stateKey string) []*rules.Warning {
	var ws []*rules.Warning
	seen := map[string]bool{}
	warn := func(key string, line int, msg string) {
		if seen[key+"\x00"+msg] {
			return
		}
		seen[key+"\x00"+msg] = true
		ws = append(ws, &rules.Warning{File: cfg.File, Line: line, Key: key, Msg: msg})
	}
	for _, j := range cfg.Jails {
		if !j.Enabled {
			continue
		}
		if j.Backend == "journal" {
			if j.JournalDirectory == "" {
				continue
			}
			if _, err := os.Stat(j.JournalDirectory); err != nil {
				key, line := cfg.Where(j, "journal_directory")
				warn(key, line, fmt.Sprintf("journal %s: %s", j.JournalDirectory, cause(err)))
			}
			continue
		}
		for i, p := range j.LogPath {
			key, line := cfg.Where(j, fmt.Sprintf("logpath[%d]", i))
			for _, msg := range logPathProblems(p) {
				warn(key, line, msg)
			}
		}
	}
	if statePath != "" {
		if err := writableDir(filepath.Dir(statePath)); err != nil {
			warn(stateKey, lineOf(cfg, stateKey), fmt.Sprintf("state %s cannot be saved: %s", statePath, err))
		}
	}
	if cfg.LogFile != "" {
		if err := writableFile(cfg.LogFile); err != nil {
			warn("logfile", lineOf(cfg, "logfile"), fmt.Sprintf("log file %s cannot be written: %s", cfg.LogFile, err))
		}
	}
	if cfg.MetricsFile != "" {
		if err := metricsDirProblem(filepath.Dir(cfg.MetricsFile)); err != nil {
			warn("metrics_file", lineOf(cfg, "metrics_file"), fmt.Sprintf("metrics file %s cannot be written: %s", cfg.MetricsFile, err))
		}
	}
	return ws
}

// lineOf is the line of a top-level key, 0 when it is not in the config (a built-in default,
// or a command-line flag).
func lineOf(cfg *rules.Config, key string) int { return cfg.Lines[key] }

// logPathProblems says what will go wrong reading the logpath entry p: a glob that matches
// no log file, a path that is missing, a directory or not a regular file, a file that cannot be
// opened. It opens and closes each file; it reads nothing.
func logPathProblems(p string) []string {
	paths, err := scan.Expand([]string{p})
	if err != nil {
		return []string{err.Error()}
	}
	if len(paths) == 0 {
		return []string{fmt.Sprintf("glob %q matches no log file: the jail watches nothing", p)}
	}
	var out []string
	for _, f := range paths {
		fi, err := os.Stat(f)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, fmt.Sprintf("log %s does not exist", f))
		case err != nil:
			out = append(out, fmt.Sprintf("log %s: %s", f, cause(err)))
		case fi.IsDir():
			out = append(out, fmt.Sprintf("log %s is a directory", f))
		case !fi.Mode().IsRegular():
			out = append(out, fmt.Sprintf("log %s is not a regular file", f))
		default:
			r, err := os.Open(f)
			if err != nil {
				out = append(out, fmt.Sprintf("log %s cannot be opened: %s", f, cause(err)))
				continue
			}
			r.Close()
		}
	}
	return out
}

// writableFile reports why path cannot be opened for appending: the file itself when it
// exists, else its directory. It writes nothing to an existing file.
func writableFile(path string) error {
	if _, err := os.Stat(path); err != nil {
		return writableDir(filepath.Dir(path))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return errors.New(cause(err))
	}
	return f.Close()
}

// metricsDirProblem reports why the metrics file cannot be written in dir: unlike the state's,
// that directory is not made (it belongs to node_exporter), so it must exist.
func metricsDirProblem(dir string) error {
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%s: %s", dir, cause(err))
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return writableDir(dir)
}

// writableDir reports why a file cannot be created in dir. A missing dir is fine when it
// can be made (state.Save and state.Lock make it): then its nearest existing ancestor is
// tried instead. It creates a temporary file there and removes it.
func writableDir(dir string) error {
	d := dir
	for {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return fmt.Errorf("%s: %s", d, cause(err))
		}
		d = filepath.Dir(d)
	}
	f, err := os.CreateTemp(d, ".fail2ban-scan-check-*")
	if err != nil {
		return fmt.Errorf("cannot create files in %s: %s", d, cause(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// cause is the system's reason in a path error ("permission denied"), without the operation
// and path that the warning names already.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
