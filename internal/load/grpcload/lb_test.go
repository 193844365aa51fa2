package grpcload

import "testing"

// The policies gRPC registers (ghz's lb-strategy values) are accepted,
// others named in the error.
func TestCheckLBPolicy(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"pick_first", "round_robin"} {
		if err := CheckLBPolicy(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckLBPolicy("fastest"); err == nil {
		t.Error("fastest: no error")
	}
}
