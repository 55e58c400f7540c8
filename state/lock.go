package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrLocked is returned by Lock when another run still holds the lock after the wait.
var ErrLocked = errors.New("another run holds the lock")

// Lock takes an exclusive flock on path+".lock", waiting up to wait for another holder to let
// go. The lock file is created if needed; one that exists but cannot be opened for writing (a
// read-only file system) is locked through a read-only descriptor. It returns the function
// that releases the lock. After the wait it returns an error that wraps ErrLocked. The lock
// is released by the kernel if the process dies.
func Lock(path string, wait time.Duration) (unlock func(), err error) {
	name := path + ".lock"
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// A lock file that exists can be locked read-only: on a file system mounted
		// read-only, the run still reads, and says that it could not save.
		ro, roErr := os.Open(name)
		if roErr != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		f = ro
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: waited %s: %w", name, wait, ErrLocked)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
