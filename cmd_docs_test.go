package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestManPage checks that the man page names every visible command in a section of its own,
// and every flag of the app and of each command in the right section; the hidden man command
// stays out.
func TestManPage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"fail2ban-scan", "man"}, &out, &errOut); code != 0 {
		t.Fatalf("man: exit %d: %s", code, errOut.String())
	}
	page := out.String()
	if !strings.HasPrefix(page, ".nh\n.TH fail2ban-scan 8") {
		t.Errorf("the page does not start with the title of fail2ban-scan(8):\n%.200s", page)
	}
	// Sections: ".SH NAME" → the text up to the next .SH.
	sections := map[string]string{}
	for _, s := range strings.Split(page, "\n.SH ")[1:] {
		name, body, _ := strings.Cut(s, "\n")
		sections[name] = body
	}
	for _, want := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS", "EXIT STATUS", "FILES", "SEE ALSO"} {
		if _, ok := sections[want]; !ok {
			t.Errorf("no section %s", want)
		}
	}
	app := newApp(&out, &errOut)
	app.Setup() // adds the help flag and command, as Run does
	checkFlags := func(section string, flags []cli.Flag) {
		for _, f := range flags {
			name := "--" + f.Names()[0]
			if !strings.Contains("\n"+sections[section], "\n\\fB"+name) {
				t.Errorf("section %s does not describe %s", section, name)
			}
		}
	}
	checkFlags("GLOBAL OPTIONS", app.VisibleFlags())
	n := 0
	for _, c := range app.Commands {
		title := strings.Join(c.Names(), ", ")
		if c.Hidden {
			if _, ok := sections[title]; ok {
				t.Errorf("the hidden command %s has a section", title)
			}
			continue
		}
		n++
		if _, ok := sections[title]; !ok {
			t.Errorf("no section for the command %s", title)
			continue
		}
		checkFlags(title, c.VisibleFlags())
	}
	if n < 8 {
		t.Errorf("only %d visible commands checked", n)
	}
}

func TestCompletionArgs(t *testing.T) {
	for _, tt := range []struct {
		args    string
		want    string
		wantErr string
	}{
		{"completion bash", "complete -o bashdefault -o default -F _fail2ban_scan fail2ban-scan", ""},
		{"completion zsh", "#compdef fail2ban-scan", ""},
		{"completion fish", "", `no script for shell "fish"`},
		{"completion", "", "one shell name"},
		{"man extra", "", "no arguments"},
	} {
		t.Run(tt.args, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append([]string{"fail2ban-scan"}, strings.Fields(tt.args)...), &out, &errOut)
			if tt.wantErr != "" {
				if code != 2 || !strings.Contains(errOut.String(), tt.wantErr) {
					t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.wantErr)
				}
				return
			}
			if code != 0 || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, stdout:\n%s\nwant 0 and %q", code, out.String(), tt.want)
			}
		})
	}
}

// TestBashCompletion sources the script `fail2ban-scan completion bash` prints into a real bash
// and calls the function `complete -p` names as bash would, with COMP_WORDS and COMP_CWORD
// set, against the built binary; once on plain bash, once with the bash-completion package
// loaded (its _init_completion takes over the parsing of the line).
func TestBashCompletion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "real", "fail2ban-scan")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script := filepath.Join(dir, "fail2ban-scan.bash")
	out, err := exec.Command(bin, "completion", "bash").Output()
	if err != nil {
		t.Fatal(err)
	}
	write(t, script, string(out))
	// fail2ban-scan on PATH records each call, then runs the real binary: the test can tell
	// whether completing a line ran the program at all.
	calls := filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "bin", "fail2ban-scan")
	os.Mkdir(filepath.Dir(wrapper), 0o755)
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\necho \"$*\" >>"+calls+"\nexec "+bin+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Every line starts with --config of a config in dir: a line that ran a command instead of
	// completing would write its state there, not /var/lib/fail2ban-scan (and the firewall
	// calls stay in the test's network namespace, see TestMain).
	cfg := filepath.Join(dir, "config.yaml")
	stateFile := filepath.Join(dir, "state.json")
	write(t, cfg, "state: "+stateFile+"\njails:\n  postfix-sasl:\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n")
	// Each case is the words on the line after --config, the last one being the word under
	// the cursor.
	cases := []struct {
		name      string
		words     []string
		want      []string // all of these are offered
		notWant   []string // none of these
		wantCalls bool
	}{
		{"commands", []string{"fail2ban-scan", ""}, []string{"scan", "status", "check", "regex", "ban", "unban", "flush", "completion"}, []string{"man"}, true},
		{"prefix", []string{"fail2ban-scan", "st"}, []string{"status"}, []string{"scan"}, true},
		{"after a global flag", []string{"fail2ban-scan", "--log-level", "debug", "sc"}, []string{"scan"}, []string{"status"}, true},
		{"global flags", []string{"fail2ban-scan", "--"}, []string{"--state", "--now", "--log-level"}, []string{"--dry-run"}, true},
		{"after a flag wanting a value", []string{"fail2ban-scan", "scan", "--jail", ""}, nil, []string{"scan", "--dry-run"}, true},
		{"scan flags", []string{"fail2ban-scan", "scan", "--"}, []string{"--dry-run", "--jail"}, []string{"--json"}, true},
		{"scan flag -", []string{"fail2ban-scan", "scan", "-"}, []string{"--dry-run", "--jail"}, nil, true},
		{"scan flag prefix", []string{"fail2ban-scan", "scan", "--d"}, []string{"--dry-run"}, []string{"--jail"}, true},
		{"status flags", []string{"fail2ban-scan", "status", "--j"}, []string{"--json"}, nil, true},
		{"ban flags", []string{"fail2ban-scan", "ban", "--"}, []string{"--jail", "--bantime"}, nil, true},
		{"shells", []string{"fail2ban-scan", "completion", ""}, []string{"bash", "zsh"}, nil, true},
		// urfave/cli runs the command for real when "--" is on the line: the script must not
		// ask it anything there.
		{"after --", []string{"fail2ban-scan", "scan", "--", ""}, nil, []string{"scan"}, false},
		{"no eval", []string{"fail2ban-scan", "$(touch " + filepath.Join(dir, "pwned") + ")", ""}, nil, nil, true},
	}
	for _, mode := range []string{"plain bash", "bash-completion"} {
		t.Run(mode, func(t *testing.T) {
			preamble := ""
			if mode == "bash-completion" {
				const lib = "/usr/share/bash-completion/bash_completion"
				if _, err := os.Stat(lib); err != nil {
					t.Skipf("%s missing (apt-get install bash-completion)", lib)
				}
				preamble = "source " + lib + "\n"
			}
			for _, tt := range cases {
				t.Run(tt.name, func(t *testing.T) {
					os.Remove(calls)
					words := append([]string{"fail2ban-scan", "--config", cfg}, tt.words[1:]...)
					quoted := make([]string, len(words))
					for i, w := range words {
						quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
					}
					// The function's name comes from complete -p, as bash finds it.
					prog := preamble + `source "$1"
spec=$(complete -p fail2ban-scan) || exit 1
fn=${spec##*-F }; fn=${fn%% *}
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
"$fn" fail2ban-scan "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
					cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog, "bash", script)
					cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(wrapper)+":"+os.Getenv("PATH"))
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("bash: %v\n%s", err, out)
					}
					got := strings.Fields(string(out))
					for _, w := range tt.want {
						if !slices.Contains(got, w) {
							t.Errorf("COMPREPLY %q lacks %q", got, w)
						}
					}
					for _, w := range tt.notWant {
						if slices.Contains(got, w) {
							t.Errorf("COMPREPLY %q has %q", got, w)
						}
					}
					_, err = os.Stat(calls)
					if called := err == nil; called != tt.wantCalls {
						t.Errorf("fail2ban-scan called: %v, want %v", called, tt.wantCalls)
					}
					if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
						t.Fatal("completing a line ran the $(...) it contains")
					}
					if _, err := os.Stat(stateFile); err == nil {
						t.Fatal("completing a line ran a command that wrote the state")
					}
				})
			}
		})
	}
}

// TestZshCompletionSyntax parses the zsh script with zsh -n (its behaviour needs a zsh line
// editor, which a test cannot drive).
func TestZshCompletionSyntax(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("no zsh (apt-get install zsh)")
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"fail2ban-scan", "completion", "zsh"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	cmd := exec.Command(zsh, "-n")
	cmd.Stdin = &out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, b)
	}
}
