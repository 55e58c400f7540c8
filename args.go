package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionFlag is what urfave/cli's shell completion appends to the command line.
const completionFlag = "--generate-bash-completion"

// interspersed rewrites a command line so that flags may come before or after the arguments,
// as GNU tools allow, for urfave/cli v2, which stops parsing flags at the first argument:
// `ban 203.0.113.5 --jail x` becomes `ban --jail x 203.0.113.5`, and a global flag given after
// the command (`scan --config x.yaml`) moves before it. `--` ends the flags: what follows stays
// an argument even when it starts with '-'. Flags are known from the app's own definitions, so
// a flag that takes a value keeps it (`--bantime -1`); an unknown flag stays where flags go, for
// the cli to refuse.
func interspersed(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	if args[len(args)-1] == completionFlag {
		return args // a shell's completion call: urfave/cli reads the words as typed
	}
	globals := flagSet(app.Flags)
	out := []string{args[0]}
	var cmdPath []string // the command and its subcommands, as typed
	var cmdFlags, positional []string
	cmds := app.Commands
	var local map[string]bool // the innermost command's flags: name -> takes a value
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			takes, isLocal := local[name]
			dst := &cmdFlags
			if !isLocal {
				if t, isGlobal := globals[name]; isGlobal {
					takes, dst = t, &out
				}
			}
			*dst = append(*dst, a)
			if takes && !hasValue && i+1 < len(rest) {
				i++
				*dst = append(*dst, rest[i])
			}
			continue
		}
		if len(positional) == 0 {
			if c := findCommand(cmds, a); c != nil {
				// flags seen so far belong to the enclosing level
				cmdPath = append(cmdPath, cmdFlags...)
				cmdFlags = nil
				cmdPath = append(cmdPath, a)
				cmds = c.Subcommands
				local = flagSet(c.Flags)
				continue
			}
		}
		positional = append(positional, a)
	}
	out = append(out, cmdPath...)
	out = append(out, cmdFlags...)
	if hasDash(positional) {
		out = append(out, "--") // an argument like "-x" after the flags must stay an argument
	}
	return append(out, positional...)
}

// hasDash reports whether an argument before any "--" would be taken for a flag ("-").
func hasDash(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if strings.HasPrefix(a, "-") {
			return true
		}
	}
	return false
}

// flagSet maps every name of the flags (and the built-in help) to whether it takes a value.
func flagSet(flags []cli.Flag) map[string]bool {
	m := map[string]bool{"help": false, "h": false}
	for _, f := range flags {
		takes := false
		if v, ok := f.(cli.DocGenerationFlag); ok {
			takes = v.TakesValue()
		}
		for _, n := range f.Names() {
			m[n] = takes
		}
	}
	return m
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// noArgs refuses arguments to a command that takes none, so that a stray word (a typo, or a
// shell's completion call) never runs it as if it had not been there.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErr(fmt.Errorf("%s takes no arguments, got %q", c.Command.Name, c.Args().First()))
	}
	return nil
}
