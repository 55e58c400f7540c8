package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxConfigFile is the most that is read of a config or filter file. Both are a few KiB; a
// path that names a device (/dev/zero), a pipe or a huge file is a mistake to report, not a
// file to read until memory runs out.
const maxConfigFile = 1 << 20

// readConfigFile reads a config or filter file: a regular file (after symlinks) of at most
// maxConfigFile bytes. The open does not block on a FIFO (O_NONBLOCK), and the type is
// checked on the opened file, not on the path, so a path swapped between a check and the
// open cannot slip anything else in. Errors name the path; a missing file is an
// fs.ErrNotExist.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fileKind(fi.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxConfigFile {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	return data, nil
}

// fileKind names a file type that is not a regular file.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file"
}
