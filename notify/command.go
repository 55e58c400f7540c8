package notify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Command runs a program, without a shell, for each digest: the digest's JSON (Payload) on
// its standard input, and Digest.Env in its environment. Its argv comes from the config only.
type Command struct {
	Argv []string
}

// Send runs the program and waits for it. When ctx is done, the program and whatever it
// started in its process group are killed.
func (c Command) Send(ctx context.Context, d Digest) error {
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Stdin = bytes.NewReader(d.JSON())
	cmd.Env = append(inheritedEnv(), d.Env()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // a child that keeps the output pipe open does not hold the run
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", c.Argv[0], ctx.Err())
	}
	if err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%s: %w: %s", c.Argv[0], err, msg)
		}
		return fmt.Errorf("%s: %w", c.Argv[0], err)
	}
	return nil
}

// inheritedEnv is this process's environment without F2B_ variables, which only Digest.Env
// sets.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "F2B_") {
			env = append(env, kv)
		}
	}
	return env
}

// tail keeps the first 512 bytes written to it: enough of a program's output for an error.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	if room := 512 - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }
