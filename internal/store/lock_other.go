//go:build !unix

package store

// Lock is a no-op where file locks are not supported.
func (f *File) Lock() (unlock func(), err error) { return func() {}, nil }
