package source

import (
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzReadCapped checks the bounded reader around the cap: a stream of n
// bytes (given whole, or one byte at a time as a pipe may) is read
// whole when n <= max and refused with ErrTooLarge, naming the cap, when
// n > max; never more than max+1 bytes are taken from it.
func FuzzReadCapped(f *testing.F) {
	for _, s := range [][2]int64{{0, 0}, {1, 0}, {0, 1}, {16, 16}, {17, 16}, {15, 16}, {1 << 20, 1 << 20}, {1<<20 + 1, 1 << 20}} {
		f.Add(s[0], s[1], byte(0))
	}
	f.Fuzz(func(t *testing.T, n, max int64, mode byte) {
		if n < 0 || max < 0 || n > 24<<20 || max > 24<<20 {
			return
		}
		src := &counting{r: io.LimitReader(endless{}, n)}
		var in io.Reader = src
		if mode%2 == 1 {
			in = iotest.OneByteReader(in)
		}
		r := Reader{Max: max}
		b, err := r.Stream("values", "stdin", in)
		limit := r.max()
		if n <= limit {
			if err != nil || int64(len(b)) != n {
				t.Fatalf("n=%d max=%d: %d bytes, %v", n, limit, len(b), err)
			}
		} else {
			var tl *TooLargeError
			if !errors.Is(err, ErrTooLarge) || !errors.As(err, &tl) || tl.Max != limit || b != nil {
				t.Fatalf("n=%d max=%d: %d bytes, %v", n, limit, len(b), err)
			}
		}
		if src.n > limit+1 {
			t.Fatalf("n=%d max=%d: read %d bytes", n, limit, src.n)
		}
	})
}

// endless is a source that never ends, like /dev/zero.
type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

type counting struct {
	r io.Reader
	n int64
}

func (c *counting) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}
