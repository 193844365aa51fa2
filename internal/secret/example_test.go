package secret_test

import (
	"fmt"
	"os"

	"iter8.tools/iter8/internal/secret"
)

func ExampleResolve() {
	_ = os.Setenv("EXAMPLE_PROM_TOKEN", "abc123")
	header := "Bearer ${env:EXAMPLE_PROM_TOKEN}" // what the experiment stores
	v, err := secret.Resolve(header)             // what is sent, at run time only
	fmt.Println(secret.Contains(header), v, err)
	// Output: true Bearer abc123 <nil>
}

func ExampleRedactor() {
	_ = os.Setenv("EXAMPLE_PROM_TOKEN", "abc123")
	var r secret.Redactor
	_, _ = r.Resolve("Bearer ${env:EXAMPLE_PROM_TOKEN}")
	fmt.Println(r.Redact("401: token abc123 expired"))
	// Output: 401: token [redacted] expired
}
