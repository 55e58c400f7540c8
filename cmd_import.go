package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/f2bimport"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:  "import-fail2ban",
		Usage: "print the config equivalent to fail2ban's enabled jails, and import the active bans of its database",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "/etc/fail2ban", Usage: "fail2ban's config `DIR`"},
			&cli.StringFlag{Name: "db", Usage: "fail2ban's SQLite database `FILE` (dbfile in fail2ban.conf; Debian: /var/lib/fail2ban/fail2ban.sqlite3)"},
			&cli.BoolFlag{Name: "write", Usage: "write the config (--config) and the state instead of printing them"},
			&cli.BoolFlag{Name: "force", Usage: "with --write: replace an existing config and add the bans to an existing state"},
		},
		Action: cmdImport,
	}
}

func cmdImport(c *cli.Context) error {
	log, now, err := globals(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
	dir := c.String("dir")
	f2b, err := f2bimport.ReadJailConfig(dir)
	if err != nil {
		return usageErr(err)
	}
	statePath := rules.DefaultStatePath
	if s := c.String("state"); s != "" {
		statePath = s
	}
	res, err := f2bimport.Convert(f2b, f2bimport.Options{Dir: dir, StatePath: statePath})
	if err != nil {
		return usageErr(err)
	}
	for _, s := range res.Skipped {
		log.logf(levelWarning, "import", "", "jail not carried over: %s", s)
	}
	// The config is checked as every command would load it: filters that this build does not
	// know are reported, not fatal, so that the rest can be carried over and edited.
	if _, err := rules.LoadConfig(strings.NewReader(res.YAML), "(imported config)", configEnv(readConfigFile)); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			log.logf(levelWarning, "import", "", "the imported config needs editing: %s", line)
		}
	}
	var bans []f2bimport.Ban
	if db := c.String("db"); db != "" {
		if bans, err = f2bimport.ReadBans(db, now.Unix()); err != nil {
			return usageErr(err)
		}
	}
	out := c.App.Writer
	if !c.Bool("write") {
		fmt.Fprint(out, res.YAML)
		if c.String("db") != "" {
			fmt.Fprintf(out, "# %d active ban(s) in %s, imported into %s with --write:\n", len(bans), c.String("db"), statePath)
			for _, o := range f2bimport.Merge(state.New(), bans, res.Jails) {
				fmt.Fprintf(out, "#   %s\n", strings.Replace(o.String(), ": imported", ": to import", 1))
			}
		}
		return nil
	}

	cfgPath := c.String("config")
	force := c.Bool("force")
	for _, p := range []string{cfgPath, statePath} {
		if _, err := os.Lstat(p); err == nil && !force {
			return usageErr(fmt.Errorf("%s exists: not overwritten (--force replaces the config and adds the bans to the state)", p))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return runtimeErr(fmt.Errorf("import: %w", err))
		}
	}
	if err := writeFileAtomic(cfgPath, []byte(res.YAML), 0o644); err != nil {
		return runtimeErr(err)
	}
	fmt.Fprintf(out, "wrote config %s (%d jail(s))\n", cfgPath, len(res.Jails))
	if err := os.MkdirAll(filepath.Dir(statePath), 0o700); err != nil {
		return runtimeErr(fmt.Errorf("import: %w", err))
	}
	unlock, err := state.Lock(statePath, 30*time.Second)
	if err != nil {
		return runtimeErr(fmt.Errorf("import: %w", err))
	}
	defer unlock()
	st, err := state.Load(statePath)
	if err != nil {
		return usageErr(err)
	}
	imported := 0
	for _, o := range f2bimport.Merge(st, bans, res.Jails) {
		if o.Action == "imported" {
			imported++
		}
		fmt.Fprintln(out, o.String())
	}
	if err := state.Save(statePath, st); err != nil {
		return runtimeErr(err)
	}
	fmt.Fprintf(out, "wrote state %s (%d ban(s) imported)\n", statePath, imported)
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same directory,
// fsync and rename, then fsyncs the directory: the old file or the new one, never a mix.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: fsync directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync directory: %w", path, err)
	}
	return nil
}
