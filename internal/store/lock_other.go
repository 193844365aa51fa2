//go:build !unix

package store

// Lock is a no-op where file locks are not supported.
func (f *File) Lock() (unlock func(), err error) { return func() {}, nil }

// held reports true: without file locks, whether a run holds the
// experiment cannot be told.
func (f *File) held() bool { return true }
