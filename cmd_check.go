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
	n := 0
	for _, j := range e.cfg.Jails {
		if j.Enabled {
			n++
		}
	}
	fmt.Fprintf(e.stdout, "%s: OK, %d jail(s), %d enabled\n", e.cfgPath, len(e.cfg.Jails), n)
	return nil
}
