package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"iter8.tools/iter8/internal/inputs"
)

// WriteOutput writes a command's output (a report) to path, which the user
// named, without ever replacing something that is not a regular file:
//
//   - no file, or a regular file: replaced atomically (WriteAtomic);
//   - a device, a FIFO, or /dev/stdout and its kin: written through, in
//     place, so `--output-file /dev/stdout` prints and /dev/null stays a device;
//   - a symbolic link: written through to the file it points to, truncated
//     and written in place, the link kept (as a shell's > does); a link to
//     nothing is refused;
//   - a directory, a socket, or one of the protected files (the experiment
//     being reported): refused as bad input, nothing written.
//
// Errors match inputs.ErrInvalid: the path is the user's choice.
func WriteOutput(path string, data []byte, protect ...string) error {
	li, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := refuseProtected(path, nil, protect); err != nil {
			return err
		}
		if err := WriteAtomic(path, data); err != nil {
			return inputs.Invalidf("%s: cannot write: %v", path, unwrapPath(errors.Unwrap(err)))
		}
		return nil
	}
	if err != nil {
		return inputs.Invalidf("%s: %v", path, unwrapPath(err))
	}
	fi := li
	if li.Mode()&fs.ModeSymlink != 0 {
		if fi, err = os.Stat(path); err != nil {
			return inputs.Invalidf("%s: a symbolic link to a file that cannot be opened (%v): expected a file to write", path, unwrapPath(err))
		}
	}
	if err := refuseProtected(path, fi, protect); err != nil {
		return err
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		return inputs.Invalidf("%s is a directory: expected a file to write", path)
	case m&fs.ModeSocket != 0:
		return inputs.Invalidf("%s is a socket: expected a file, a device or a FIFO to write", path)
	case m.IsRegular() && li.Mode()&fs.ModeSymlink == 0:
		if err := WriteAtomic(path, data); err != nil {
			return inputs.Invalidf("%s: cannot write: %v", path, unwrapPath(errors.Unwrap(err)))
		}
		return nil
	}
	// Write through: a link's target, a device, a FIFO. No O_CREATE: the
	// target exists (a link that now points nowhere is an error, not a new file).
	flag := os.O_WRONLY
	if fi.Mode().IsRegular() {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return inputs.Invalidf("%s: cannot open the %s to write: %v", path, kind(fi.Mode()), unwrapPath(err))
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return inputs.Invalidf("%s: cannot write to the %s: %v", path, kind(fi.Mode()), unwrapPath(err))
	}
	if err := f.Close(); err != nil {
		return inputs.Invalidf("%s: cannot write to the %s: %v", path, kind(fi.Mode()), unwrapPath(err))
	}
	return nil
}

// refuseProtected refuses to write over a protected file: the same file (a
// hard or symbolic link to it included) or, for a path not yet there, the
// same name.
func refuseProtected(path string, fi fs.FileInfo, protect []string) error {
	for _, p := range protect {
		pi, err := os.Stat(p)
		same := false
		if err == nil && fi != nil {
			same = os.SameFile(fi, pi)
		} else if a, aerr := filepath.Abs(path); aerr == nil {
			b, berr := filepath.Abs(p)
			same = berr == nil && a == b
		}
		if same {
			return inputs.Invalidf("%s is the experiment this command reads: expected another file for the output", path)
		}
	}
	return nil
}

// kind names a file's type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// unwrapPath drops the path from an *fs.PathError (the message names it).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
