package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func cmdCheck(c *cli.Context) error {
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	clashes, err := e.askFail2ban(c.Context, e.cfg.Jails)
	if err != nil {
		return runtimeErr(err)
	}
	if len(clashes) > 0 {
		for _, err := range clashes {
			fmt.Fprintf(e.stdout, "ERROR %s\n", err)
		}
		return usageErr(fmt.Errorf("%s: %d jail(s) clash with a running fail2ban", e.cfgPath, len(clashes)))
	}
	n := 0
	for _, j := range e.cfg.Jails {
		if j.Enabled {
			n++
		}
	}
	fmt.Fprintf(e.stdout, "%s: OK, %d jail(s), %d enabled\n", e.cfgPath, len(e.cfg.Jails), n)
	return nil
}
